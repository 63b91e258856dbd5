"""Allocations (API 1.52), and the node's link to its allocation.

Both sides of the link are unique (allocations.node_id, nodes.allocation_uuid): even a
write that skipped the conditional UPDATE could not give one node two allocations.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"


def upgrade() -> None:
    op.create_table(
        "allocations",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=True, unique=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                  nullable=True, unique=True),
        sa.Column("state", sa.String(15), nullable=False),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("resource_class", sa.String(80), nullable=True),
        sa.Column("traits", sa.JSON, nullable=False),
        sa.Column("candidate_nodes", sa.JSON, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_index("allocations_state_idx", "allocations", ["state"])
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("allocation_uuid", sa.String(36), nullable=True))
        batch.create_unique_constraint("uniq_nodes0allocation_uuid", ["allocation_uuid"])
