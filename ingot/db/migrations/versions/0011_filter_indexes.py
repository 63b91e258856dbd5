"""Indexes for the filters of API 1.82-1.83 and 1.111 (shard, sharded, parent_node,
instance_name) and chassis_uuid, as migration 0006 made for the others: (column, id), and partial
indexes for sharded=true and for children (lists without include_children ask for
parent_node IS NULL, which nearly every node meets: no index should be chosen for it).
They replace the single-column shard and parent_node indexes.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    op.drop_index("nodes_shard_idx", table_name="nodes")
    op.drop_index("nodes_parent_node_idx", table_name="nodes")
    for column in ("shard", "instance_name", "chassis_uuid"):
        op.create_index(f"nodes_{column}_id_idx", "nodes", [column, "id"])
    for name, columns, where in (
            ("nodes_sharded_id_idx", ["id"], "shard IS NOT NULL"),
            ("nodes_parent_node_id_idx", ["parent_node", "id"], "parent_node IS NOT NULL")):
        op.create_index(name, "nodes", columns, sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))
