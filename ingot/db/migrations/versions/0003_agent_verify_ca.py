"""The CA of the agent's TLS certificate, sent in its heartbeats (agent_verify_ca).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("agent_verify_ca", sa.Text, nullable=True))
