"""A node's BIOS settings (API 1.40, registry fields 1.74) and firmware components
(API 1.86), as its bios and firmware interfaces last read them.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"


def upgrade() -> None:
    op.create_table(
        "bios_settings",
        sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("name", sa.String(255), primary_key=True),
        sa.Column("value", sa.Text, nullable=True),
        sa.Column("attribute_type", sa.String(255), nullable=True),
        sa.Column("allowable_values", sa.JSON, nullable=True),
        sa.Column("lower_bound", sa.BigInteger, nullable=True),
        sa.Column("max_length", sa.Integer, nullable=True),
        sa.Column("min_length", sa.Integer, nullable=True),
        sa.Column("read_only", sa.Boolean, nullable=True),
        sa.Column("reset_required", sa.Boolean, nullable=True),
        sa.Column("unique", sa.Boolean, nullable=True),
        sa.Column("upper_bound", sa.BigInteger, nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_table(
        "firmware_components",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("component", sa.String(255), nullable=False),
        sa.Column("initial_version", sa.String(255), nullable=False),
        sa.Column("current_version", sa.String(255), nullable=True),
        sa.Column("last_version_flashed", sa.String(255), nullable=True),
        sa.Column("vendor", sa.String(255), nullable=True),
        sa.Column("model", sa.String(255), nullable=True),
        sa.Column("serial_number", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
        sa.UniqueConstraint("node_id", "component",
                            name="firmware_components_node_id_component_key"),
    )
