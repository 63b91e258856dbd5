"""Node and port fields of API 1.75-1.111 (boot mode, shard, parent node, firmware
interface, service step, disable_power_off, instance name, health; port name,
description, vendor, category, dynamic portgroup availability).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("nodes") as batch:
        batch.add_column(sa.Column("firmware_interface", sa.String(255), nullable=True))
        batch.add_column(sa.Column("boot_mode", sa.String(16), nullable=True))
        batch.add_column(sa.Column("secure_boot", sa.Boolean, nullable=True))
        batch.add_column(sa.Column("shard", sa.String(255), nullable=True))
        batch.add_column(sa.Column("parent_node", sa.String(36), nullable=True))
        batch.add_column(sa.Column("service_step", sa.JSON, nullable=True))
        batch.add_column(sa.Column("disable_power_off", sa.Boolean, nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("instance_name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("health", sa.String(32), nullable=True))
        batch.create_index("nodes_shard_idx", ["shard"])
        batch.create_index("nodes_parent_node_idx", ["parent_node"])
    with op.batch_alter_table("ports") as batch:
        batch.add_column(sa.Column("name", sa.String(255), nullable=True))
        batch.add_column(sa.Column("description", sa.String(255), nullable=True))
        batch.add_column(sa.Column("vendor", sa.String(32), nullable=True))
        batch.add_column(sa.Column("category", sa.String(80), nullable=True))
        batch.add_column(sa.Column("available_for_dynamic_portgroup", sa.Boolean,
                                   nullable=False, server_default=sa.true()))
        batch.create_unique_constraint("uniq_ports0name", ["name"])
    # local-vm and qemu-vm nodes named every no-op interface "no-vendor"; they get
    # Ironic's names (no-bios, no-console, ...) as their hardware types now do.
    for kind, name in (("bios", "no-bios"), ("console", "no-console"), ("raid", "no-raid")):
        op.execute(sa.text(f"UPDATE nodes SET {kind}_interface = :name "
                           f"WHERE {kind}_interface = 'no-vendor'").bindparams(name=name))
