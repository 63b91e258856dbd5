"""Indexes that serve every node list order and filter: (column, id) per sort key and
filter column, partial indexes for the associated filter. The single-column indexes on
provision_state and conductor_group are prefixes of the new ones.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

_LISTED = (
    "uuid", "name", "created_at", "updated_at", "provision_updated_at", "driver",
    "provision_state", "power_state", "target_provision_state", "maintenance",
    "resource_class", "conductor_group", "owner", "lessee", "instance_uuid", "fault",
    "retired", "protected", "conductor_affinity",
)


def upgrade() -> None:
    op.drop_index("nodes_provision_state_idx", table_name="nodes")
    op.drop_index("nodes_conductor_group_idx", table_name="nodes")
    for column in _LISTED:
        op.create_index(f"nodes_{column}_id_idx", "nodes", [column, "id"])
    for name, where in (("nodes_associated_id_idx", "instance_uuid IS NOT NULL"),
                        ("nodes_unassociated_id_idx", "instance_uuid IS NULL")):
        op.create_index(name, "nodes", ["id"], sqlite_where=sa.text(where),
                        postgresql_where=sa.text(where))
