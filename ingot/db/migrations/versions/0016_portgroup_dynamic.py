"""Portgroups' dynamic_portgroup (API 1.111): NULL for the existing ones, as in Ironic.

Revision ID: 0016
Revises: 0015
"""

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"


def upgrade() -> None:
    with op.batch_alter_table("portgroups") as batch:
        batch.add_column(sa.Column("dynamic_portgroup", sa.Boolean, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("portgroups") as batch:
        batch.drop_column("dynamic_portgroup")
