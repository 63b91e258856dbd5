"""Initial schema: nodes, ports, conductors.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None

_INTERFACES = (
    "bios", "boot", "console", "deploy", "inspect", "management", "network",
    "power", "raid", "rescue", "storage", "vendor",
)


def upgrade() -> None:
    op.create_table(
        "nodes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=True, unique=True),
        sa.Column("driver", sa.String(255), nullable=False),
        sa.Column("driver_info", sa.JSON, nullable=False),
        sa.Column("driver_internal_info", sa.JSON, nullable=False),
        sa.Column("instance_info", sa.JSON, nullable=False),
        sa.Column("properties", sa.JSON, nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("network_data", sa.JSON, nullable=False),
        sa.Column("traits", sa.JSON, nullable=False),
        sa.Column("instance_uuid", sa.String(36), nullable=True, unique=True),
        sa.Column("power_state", sa.String(15), nullable=True),
        sa.Column("target_power_state", sa.String(15), nullable=True),
        sa.Column("provision_state", sa.String(15), nullable=False),
        sa.Column("target_provision_state", sa.String(15), nullable=True),
        sa.Column("provision_updated_at", sa.DateTime, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("maintenance", sa.Boolean, nullable=False),
        sa.Column("maintenance_reason", sa.Text, nullable=True),
        sa.Column("fault", sa.String(255), nullable=True),
        sa.Column("console_enabled", sa.Boolean, nullable=False),
        sa.Column("inspection_started_at", sa.DateTime, nullable=True),
        sa.Column("inspection_finished_at", sa.DateTime, nullable=True),
        sa.Column("clean_step", sa.JSON, nullable=False),
        sa.Column("deploy_step", sa.JSON, nullable=False),
        sa.Column("raid_config", sa.JSON, nullable=False),
        sa.Column("target_raid_config", sa.JSON, nullable=False),
        sa.Column("resource_class", sa.String(80), nullable=True),
        *(sa.Column(f"{name}_interface", sa.String(255), nullable=True)
          for name in _INTERFACES),
        sa.Column("conductor_group", sa.String(255), nullable=False),
        sa.Column("automated_clean", sa.Boolean, nullable=True),
        sa.Column("protected", sa.Boolean, nullable=False),
        sa.Column("protected_reason", sa.Text, nullable=True),
        sa.Column("owner", sa.String(255), nullable=True),
        sa.Column("lessee", sa.String(255), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("retired", sa.Boolean, nullable=False),
        sa.Column("retired_reason", sa.Text, nullable=True),
        sa.Column("reservation", sa.String(255), nullable=True),
        sa.Column("conductor_affinity", sa.String(255), nullable=True),
        sa.Column("pending_action", sa.String(32), nullable=True),
        sa.Column("pending_args", sa.JSON, nullable=True),
        sa.Column("agent_url", sa.String(255), nullable=True),
        sa.Column("agent_version", sa.String(64), nullable=True),
        sa.Column("agent_last_heartbeat", sa.DateTime, nullable=True),
        sa.Column("agent_token", sa.String(64), nullable=True),
        sa.Column("agent_progress", sa.JSON, nullable=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_index("nodes_provision_state_idx", "nodes", ["provision_state"])
    op.create_index("nodes_conductor_group_idx", "nodes", ["conductor_group"])
    op.create_index("nodes_pending_action_idx", "nodes", ["pending_action"])
    op.create_index("nodes_reservation_idx", "nodes", ["reservation"])

    op.create_table(
        "ports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("uuid", sa.String(36), nullable=False, unique=True),
        sa.Column("address", sa.String(18), nullable=False, unique=True),
        sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("extra", sa.JSON, nullable=False),
        sa.Column("internal_info", sa.JSON, nullable=False),
        sa.Column("local_link_connection", sa.JSON, nullable=False),
        sa.Column("pxe_enabled", sa.Boolean, nullable=False),
        sa.Column("physical_network", sa.String(64), nullable=True),
        sa.Column("is_smartnic", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
    op.create_index("ports_node_id_idx", "ports", ["node_id"])

    op.create_table(
        "conductors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("hostname", sa.String(255), nullable=False, unique=True),
        sa.Column("conductor_group", sa.String(255), nullable=False),
        sa.Column("groups", sa.JSON, nullable=False),
        sa.Column("hardware_types", sa.JSON, nullable=False),
        sa.Column("online", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=True),
    )
