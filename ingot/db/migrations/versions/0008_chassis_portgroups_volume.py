"""Chassis, portgroups, volume connectors and targets; nodes link to their chassis and
ports to their portgroup by UUID (a foreign key to a unique column: no join to show it).

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def _common() -> list[sa.Column[object]]:
    return [sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("uuid", sa.String(36), nullable=False, unique=True)]


def _times() -> list[sa.Column[object]]:
    return [sa.Column("created_at", sa.DateTime, nullable=False),
            sa.Column("updated_at", sa.DateTime, nullable=True)]


def _node() -> sa.Column[object]:
    return sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                     nullable=False)


def upgrade() -> None:
    op.create_table(
        "chassis", *_common(),
        sa.Column("description", sa.String(255), nullable=True),
        sa.Column("extra", sa.JSON, nullable=False), *_times())
    op.create_table(
        "portgroups", *_common(),
        sa.Column("name", sa.String(255), nullable=True, unique=True),
        _node(),
        sa.Column("address", sa.String(18), nullable=True, unique=True),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("internal_info", sa.JSON, nullable=False),
        sa.Column("standalone_ports_supported", sa.Boolean, nullable=False),
        sa.Column("mode", sa.String(255), nullable=True),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("physical_network", sa.String(64), nullable=True),
        sa.Column("category", sa.String(80), nullable=True),
        *_times(),
        sa.Index("portgroups_node_id_idx", "node_id"))
    op.create_table(
        "volume_connectors", *_common(), _node(),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("connector_id", sa.String(255), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False), *_times(),
        sa.UniqueConstraint("type", "connector_id",
                            name="volume_connectors_type_connector_id_key"),
        sa.Index("volume_connectors_node_id_idx", "node_id"))
    op.create_table(
        "volume_targets", *_common(), _node(),
        sa.Column("volume_type", sa.String(64), nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("boot_index", sa.Integer, nullable=False),
        sa.Column("volume_id", sa.String(36), nullable=False),
        sa.Column("extra", sa.JSON, nullable=False), *_times(),
        sa.UniqueConstraint("node_id", "boot_index",
                            name="volume_targets_node_id_boot_index_key"),
        sa.Index("volume_targets_node_id_idx", "node_id"))
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("chassis_uuid", sa.String(36), nullable=True))
        batch.create_foreign_key("nodes_chassis_uuid_fkey", "chassis", ["chassis_uuid"],
                                 ["uuid"])
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("portgroup_uuid", sa.String(36), nullable=True))
        batch.create_foreign_key("ports_portgroup_uuid_fkey", "portgroups",
                                 ["portgroup_uuid"], ["uuid"])
