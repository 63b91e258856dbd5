"""The shard filter's index holds sharded nodes only (shard IS NOT NULL).

Most fleets shard few nodes or none: over every node, the (shard, id) index was mostly
NULL entries, and its statistics (one value shared by nearly every row) led SQLite to
judge `shard IS NOT NULL` unselective and to walk the whole table for sharded=true. A
`shard IN (...)` filter implies the index's condition, so both backends still use it.

Revision ID: 0015
Revises: 0014
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"

_WHERE = "shard IS NOT NULL"


def upgrade() -> None:
    op.drop_index("nodes_shard_id_idx", table_name="nodes")
    op.create_index("nodes_shard_id_idx", "nodes", ["shard", "id"],
                    sqlite_where=sa.text(_WHERE), postgresql_where=sa.text(_WHERE))


def downgrade() -> None:
    op.drop_index("nodes_shard_id_idx", table_name="nodes")
    op.create_index("nodes_shard_id_idx", "nodes", ["shard", "id"])
