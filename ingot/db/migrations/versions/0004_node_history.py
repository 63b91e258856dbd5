"""Node history (API 1.78): events recorded by conductors, errors among them.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "node_history",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("conductor", sa.String(255), nullable=True),
        sa.Column("event_type", sa.String(255), nullable=True),
        sa.Column("severity", sa.String(255), nullable=True),
        sa.Column("event", sa.Text, nullable=True),
        sa.Column("user", sa.String(64), nullable=True),
        sa.Column("project", sa.String(80), nullable=True),
        sa.Column("state", sa.String(255), nullable=True),
        sa.Column("target_provision_state", sa.String(255), nullable=True),
        sa.Column("duration_seconds", sa.Integer, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.Index("node_history_node_id_idx", "node_id"),
    )
