"""Tables, and the typed records that leave the database layer.

The schema is created by Alembic migrations (``ingot/db/migrations``); these Table
objects only describe it for queries and must stay in step with the migrations
(``tests/test_schema.py`` checks that).
"""

from __future__ import annotations

import dataclasses
import datetime
from typing import Any

import sqlalchemy as sa

metadata = sa.MetaData()

INTERFACE_COLUMNS = tuple(
    f"{name}_interface"
    for name in (
        "bios", "boot", "console", "deploy", "firmware", "inspect", "management", "network",
        "power", "raid", "rescue", "storage", "vendor",
    )
)

# Columns a node list sorts or filters by: each has an index on (column, id), which
# serves an equality filter in id order as well as a sort by the column (migration 0006;
# ingot/db/nodes.py SORTABLE and NodeFilters).
LISTED_COLUMNS = (
    "uuid", "name", "created_at", "updated_at", "provision_updated_at", "driver",
    "provision_state", "power_state", "target_provision_state", "maintenance",
    "resource_class", "conductor_group", "owner", "lessee", "instance_uuid", "fault",
    "retired", "protected", "conductor_affinity", "shard", "instance_name", "chassis_uuid",
)

nodes = sa.Table(
    "nodes",
    metadata,
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
    *(sa.Column(column, sa.String(255), nullable=True) for column in INTERFACE_COLUMNS),
    sa.Column("conductor_group", sa.String(255), nullable=False),
    sa.Column("automated_clean", sa.Boolean, nullable=True),
    sa.Column("protected", sa.Boolean, nullable=False),
    sa.Column("protected_reason", sa.Text, nullable=True),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("lessee", sa.String(255), nullable=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("retired", sa.Boolean, nullable=False),
    sa.Column("retired_reason", sa.Text, nullable=True),
    # API 1.75-1.109 (migration 0004): what Ironic 39's nodes carry besides the above.
    sa.Column("boot_mode", sa.String(16), nullable=True),
    sa.Column("secure_boot", sa.Boolean, nullable=True),
    sa.Column("shard", sa.String(255), nullable=True),
    sa.Column("parent_node", sa.String(36), nullable=True),
    sa.Column("service_step", sa.JSON, nullable=True),
    sa.Column("disable_power_off", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("instance_name", sa.String(255), nullable=True),
    sa.Column("health", sa.String(32), nullable=True),
    # Which conductor holds the node for an operation; taken and released only with
    # conditional UPDATEs.
    sa.Column("reservation", sa.String(255), nullable=True),
    # The conductor that last worked on the node (shown as the node's "conductor").
    sa.Column("conductor_affinity", sa.String(255), nullable=True),
    # Work the API asked for and no conductor has finished yet: the API's only way of
    # handing work to conductors, so any conductor of the group can take it.
    sa.Column("pending_action", sa.String(32), nullable=True),
    sa.Column("pending_args", sa.JSON, nullable=True),
    # What the agent reports, kept out of driver_internal_info so that heartbeats and
    # conductors never overwrite each other's JSON. The token is needed in clear to call
    # the agent; it never leaves the database through the API.
    sa.Column("agent_url", sa.String(255), nullable=True),
    sa.Column("agent_version", sa.String(64), nullable=True),
    sa.Column("agent_last_heartbeat", sa.DateTime, nullable=True),
    sa.Column("agent_token", sa.String(64), nullable=True),
    sa.Column("agent_progress", sa.JSON, nullable=True),
    # The CA (PEM) of the agent's self-signed TLS certificate, from its heartbeats.
    sa.Column("agent_verify_ca", sa.Text, nullable=True),
    # The allocation holding the node (migration 0012); set and cleared only together
    # with allocations.node_id, in one transaction (db/allocations.py).
    sa.Column("allocation_uuid", sa.String(36), nullable=True, unique=True),
    # Bumped by every UPDATE: API writes that read a node first (JSON patches) apply
    # only if nothing changed since the read.
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    # By UUID (a key of chassis): the API shows it without a join (migration 0008).
    sa.Column("chassis_uuid", sa.String(36),
              sa.ForeignKey("chassis.uuid", name="nodes_chassis_uuid_fkey"), nullable=True),
    sa.Index("nodes_pending_action_idx", "pending_action"),
    sa.Index("nodes_reservation_idx", "reservation"),
    *(sa.Index(f"nodes_{column}_id_idx", column, "id") for column in LISTED_COLUMNS
      if column != "shard"),
)
# The associated filter in id order: partial indexes, since "IS [NOT] NULL" does not
# fix an index's first column for ordering the way an equality does.
for _name, _where in (("nodes_associated_id_idx", nodes.c.instance_uuid.is_not(None)),
                      ("nodes_unassociated_id_idx", nodes.c.instance_uuid.is_(None)),
                      ("nodes_sharded_id_idx", nodes.c.shard.is_not(None))):
    sa.Index(_name, nodes.c.id, sqlite_where=_where, postgresql_where=_where)
# Sharded nodes only: few fleets shard most nodes, and an index over every node's NULL
# led SQLite to judge `shard IS NOT NULL` unselective (migration 0015).
sa.Index("nodes_shard_id_idx", nodes.c.shard, nodes.c.id, sqlite_where=nodes.c.shard.is_not(None),
         postgresql_where=nodes.c.shard.is_not(None))
# Only children: every list without include_children asks for parent_node IS NULL, which
# nearly every node meets, and must not be steered to this index (and a sort) by it.
_where = nodes.c.parent_node.is_not(None)
sa.Index("nodes_parent_node_id_idx", nodes.c.parent_node, nodes.c.id, sqlite_where=_where,
         postgresql_where=_where)

# Lists sorted by description order by its first DESCRIPTION_PREFIX characters, then id
# (migration 0017): a description (up to 4096 characters) may be longer than a
# PostgreSQL B-tree entry can hold (about 2700 bytes), 512 characters never are (4 bytes
# each at most). MySQL, Ironic's usual database, sorts a TEXT column by its first
# max_sort_length (1024) bytes the same way. The literals are SQL, not bound parameters:
# SQLite uses an index on an expression only for the same expression.
DESCRIPTION_PREFIX = 512
description_order = sa.func.substr(nodes.c.description, sa.literal_column("1"),
                                   sa.literal_column(str(DESCRIPTION_PREFIX)), type_=sa.Text)
sa.Index("nodes_description_id_idx", description_order, nodes.c.id)
# description_contains (a substring) is served by a trigram index: pg_trgm's on
# PostgreSQL, an FTS5 table with the trigram tokenizer on SQLite, kept by triggers on
# nodes (migration 0017). The FTS5 table is not part of the metadata (SQLAlchemy cannot
# describe a virtual table); queries name it through this clause.
POSTGRESQL_ONLY_INDEXES = frozenset({"nodes_description_trgm_idx"})
sa.Index("nodes_description_trgm_idx", nodes.c.description, postgresql_using="gin",
         postgresql_ops={"description": "gin_trgm_ops"},
         postgresql_with={"fastupdate": "off"}).ddl_if(dialect="postgresql")
# Tables the migrations create that the metadata does not describe: SQLite's FTS5 table
# and the tables FTS5 keeps it in (named after it).
UNDESCRIBED_TABLE_PREFIX = "nodes_description_fts"
nodes_description_fts = sa.table("nodes_description_fts", sa.column("rowid", sa.Integer),
                                 sa.column("nodes_description_fts", sa.Text))

ports = sa.Table(
    "ports",
    metadata,
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
    # API 1.88-1.111 (migration 0004)
    sa.Column("name", sa.String(255), nullable=True, unique=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("vendor", sa.String(32), nullable=True),
    sa.Column("category", sa.String(80), nullable=True),
    sa.Column("available_for_dynamic_portgroup", sa.Boolean, nullable=False,
              server_default=sa.true()),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Column("portgroup_uuid", sa.String(36),
              sa.ForeignKey("portgroups.uuid", name="ports_portgroup_uuid_fkey"),
              nullable=True),
    sa.Index("ports_node_id_idx", "node_id"),
)

def _node_id() -> sa.Column[int]:
    return sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
                     nullable=False)


# Migration 0008: chassis, portgroups, volume connectors and targets.
chassis = sa.Table(
    "chassis",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

portgroups = sa.Table(
    "portgroups",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=True, unique=True),
    _node_id(),
    sa.Column("address", sa.String(18), nullable=True, unique=True),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("internal_info", sa.JSON, nullable=False),
    sa.Column("standalone_ports_supported", sa.Boolean, nullable=False),
    sa.Column("mode", sa.String(255), nullable=True),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Column("physical_network", sa.String(64), nullable=True),
    sa.Column("category", sa.String(80), nullable=True),
    # API 1.111 (migration 0016): read-only, NULL on portgroups older than it, as Ironic.
    sa.Column("dynamic_portgroup", sa.Boolean, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Index("portgroups_node_id_idx", "node_id"),
)

volume_connectors = sa.Table(
    "volume_connectors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    _node_id(),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("connector_id", sa.String(255), nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("type", "connector_id",
                        name="volume_connectors_type_connector_id_key"),
    sa.Index("volume_connectors_node_id_idx", "node_id"),
)

volume_targets = sa.Table(
    "volume_targets",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    _node_id(),
    sa.Column("volume_type", sa.String(64), nullable=False),
    sa.Column("properties", sa.JSON, nullable=False),
    sa.Column("boot_index", sa.Integer, nullable=False),
    sa.Column("volume_id", sa.String(36), nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.UniqueConstraint("node_id", "boot_index",
                        name="volume_targets_node_id_boot_index_key"),
    sa.Index("volume_targets_node_id_idx", "node_id"),
)

# Migration 0009: what a node's bios and firmware interfaces last read from it.
bios_settings = sa.Table(
    "bios_settings",
    metadata,
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

firmware_components = sa.Table(
    "firmware_components",
    metadata,
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

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=True, unique=True),
    sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
              nullable=True, unique=True),
    # allocating, then active or error (Ironic's allocation states).
    sa.Column("state", sa.String(15), nullable=False),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("resource_class", sa.String(80), nullable=True),
    sa.Column("traits", sa.JSON, nullable=False),
    sa.Column("candidate_nodes", sa.JSON, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
    sa.Index("allocations_state_idx", "state"),
)

# Deploy templates (migration 0013): a name that is a trait, and the deploy steps a
# deployment whose instance asks for that trait runs.
deploy_templates = sa.Table(
    "deploy_templates",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

# Runbooks (migration 0014, API 1.92): named step lists a node may run for cleaning or
# servicing when its traits approve it (the name before API 1.112, traits after).
runbooks = sa.Table(
    "runbooks",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("name", sa.String(255), nullable=False, unique=True),
    sa.Column("steps", sa.JSON, nullable=False),
    sa.Column("disable_ramdisk", sa.Boolean, nullable=False),
    sa.Column("public", sa.Boolean, nullable=False),
    sa.Column("owner", sa.String(255), nullable=True),
    sa.Column("description", sa.String(255), nullable=True),
    sa.Column("traits", sa.JSON, nullable=False),
    sa.Column("extra", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

conductors = sa.Table(
    "conductors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("hostname", sa.String(255), nullable=False, unique=True),
    sa.Column("conductor_group", sa.String(255), nullable=False),
    # Every group this conductor serves: conductor_group plus [conductor]conductor_groups.
    sa.Column("groups", sa.JSON, nullable=False),
    sa.Column("hardware_types", sa.JSON, nullable=False),
    sa.Column("online", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)


# What happened to a node (migration 0004): API 1.78's /v1/nodes/{node}/history.
node_history = sa.Table(
    "node_history",
    metadata,
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


def utcnow() -> datetime.datetime:
    """Naive UTC: what every DateTime column stores, on SQLite and PostgreSQL alike."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@dataclasses.dataclass(slots=True)
class Node:
    id: int
    uuid: str
    name: str | None
    driver: str
    driver_info: dict[str, Any]
    driver_internal_info: dict[str, Any]
    instance_info: dict[str, Any]
    properties: dict[str, Any]
    extra: dict[str, Any]
    network_data: dict[str, Any]
    traits: list[str]
    instance_uuid: str | None
    power_state: str | None
    target_power_state: str | None
    provision_state: str
    target_provision_state: str | None
    provision_updated_at: datetime.datetime | None
    last_error: str | None
    maintenance: bool
    maintenance_reason: str | None
    fault: str | None
    console_enabled: bool
    inspection_started_at: datetime.datetime | None
    inspection_finished_at: datetime.datetime | None
    clean_step: dict[str, Any]
    deploy_step: dict[str, Any]
    raid_config: dict[str, Any]
    target_raid_config: dict[str, Any]
    resource_class: str | None
    bios_interface: str | None
    boot_interface: str | None
    console_interface: str | None
    deploy_interface: str | None
    firmware_interface: str | None
    inspect_interface: str | None
    management_interface: str | None
    network_interface: str | None
    power_interface: str | None
    raid_interface: str | None
    rescue_interface: str | None
    storage_interface: str | None
    vendor_interface: str | None
    conductor_group: str
    automated_clean: bool | None
    protected: bool
    protected_reason: str | None
    owner: str | None
    lessee: str | None
    description: str | None
    retired: bool
    retired_reason: str | None
    boot_mode: str | None
    secure_boot: bool | None
    shard: str | None
    parent_node: str | None
    service_step: dict[str, Any] | None
    disable_power_off: bool
    instance_name: str | None
    health: str | None
    reservation: str | None
    conductor_affinity: str | None
    pending_action: str | None
    pending_args: dict[str, Any] | None
    agent_url: str | None
    agent_version: str | None
    agent_last_heartbeat: datetime.datetime | None
    agent_token: str | None
    agent_progress: dict[str, Any] | None
    agent_verify_ca: str | None
    allocation_uuid: str | None
    revision: int
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    chassis_uuid: str | None

    def interface(self, kind: str) -> str | None:
        value: str | None = getattr(self, f"{kind}_interface")
        return value


class PartialNode:
    """Some of a node's columns, as attributes of the same names: what a list reads
    when the fields it shows need only those. Reading a column that was not selected
    is an error, never a silent None."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.__dict__.update(values)

    def __getattr__(self, name: str) -> Any:
        raise AttributeError(f"the node's column {name} was not read")


@dataclasses.dataclass(slots=True)
class Port:
    id: int
    uuid: str
    address: str
    node_id: int
    extra: dict[str, Any]
    internal_info: dict[str, Any]
    local_link_connection: dict[str, Any]
    pxe_enabled: bool
    physical_network: str | None
    is_smartnic: bool
    name: str | None
    description: str | None
    vendor: str | None
    category: str | None
    available_for_dynamic_portgroup: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    portgroup_uuid: str | None = None
    node_uuid: str = ""


@dataclasses.dataclass(slots=True)
class Allocation:
    id: int
    uuid: str
    name: str | None
    node_id: int | None
    state: str
    last_error: str | None
    resource_class: str | None
    traits: list[str]
    candidate_nodes: list[str]
    extra: dict[str, Any]
    owner: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    node_uuid: str | None = None


@dataclasses.dataclass(slots=True)
class DeployTemplate:
    id: int
    uuid: str
    name: str
    steps: list[dict[str, Any]]
    extra: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class Runbook:
    id: int
    uuid: str
    name: str
    steps: list[dict[str, Any]]
    disable_ramdisk: bool
    public: bool
    owner: str | None
    description: str | None
    traits: list[str]
    extra: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class Conductor:
    id: int
    hostname: str
    conductor_group: str
    groups: list[str]
    hardware_types: list[str]
    online: bool
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class HistoryEvent:
    id: int
    uuid: str
    node_id: int
    conductor: str | None
    event_type: str | None
    severity: str | None
    event: str | None
    user: str | None
    project: str | None
    state: str | None
    target_provision_state: str | None
    duration_seconds: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class Chassis:
    id: int
    uuid: str
    description: str | None
    extra: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class Portgroup:
    id: int
    uuid: str
    name: str | None
    node_id: int
    address: str | None
    extra: dict[str, Any]
    internal_info: dict[str, Any]
    standalone_ports_supported: bool
    mode: str | None
    properties: dict[str, Any]
    physical_network: str | None
    category: str | None
    dynamic_portgroup: bool | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    node_uuid: str = ""


@dataclasses.dataclass(slots=True)
class VolumeConnector:
    id: int
    uuid: str
    node_id: int
    type: str
    connector_id: str
    extra: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    node_uuid: str = ""


@dataclasses.dataclass(slots=True)
class VolumeTarget:
    id: int
    uuid: str
    node_id: int
    volume_type: str
    properties: dict[str, Any]
    boot_index: int
    volume_id: str
    extra: dict[str, Any]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None
    node_uuid: str = ""


@dataclasses.dataclass(slots=True)
class BiosSetting:
    node_id: int
    name: str
    value: str | None
    attribute_type: str | None
    allowable_values: list[str] | None
    lower_bound: int | None
    max_length: int | None
    min_length: int | None
    read_only: bool | None
    reset_required: bool | None
    unique: bool | None
    upper_bound: int | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


@dataclasses.dataclass(slots=True)
class FirmwareComponent:
    id: int
    node_id: int
    component: str
    initial_version: str
    current_version: str | None
    last_version_flashed: str | None
    vendor: str | None
    model: str | None
    serial_number: str | None
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


def _check_field_order(record: type, table: sa.Table, extra: tuple[str, ...] = ()) -> None:
    """Records are built positionally from rows (keyword construction costs 40x more on
    the list path), so field order must be the table's column order."""
    fields = tuple(field.name for field in dataclasses.fields(record))
    columns = tuple(column.name for column in table.columns) + extra
    if fields != columns:
        raise AssertionError(f"{record.__name__} fields do not match table {table.name}")


_check_field_order(Node, nodes)
_check_field_order(Port, ports, ("node_uuid",))
_check_field_order(Allocation, allocations, ("node_uuid",))
_check_field_order(DeployTemplate, deploy_templates)
_check_field_order(Runbook, runbooks)
_check_field_order(Conductor, conductors)
_check_field_order(HistoryEvent, node_history)
_check_field_order(Chassis, chassis)
_check_field_order(Portgroup, portgroups, ("node_uuid",))
_check_field_order(VolumeConnector, volume_connectors, ("node_uuid",))
_check_field_order(VolumeTarget, volume_targets, ("node_uuid",))
_check_field_order(BiosSetting, bios_settings)
_check_field_order(FirmwareComponent, firmware_components)


# Temporary URLs handed out for Swift objects (migration 0002). One row per set of
# signature inputs, hashed into cache_key; the row holds the agreed expiry, never the
# key or the signature: every conductor with the key recomputes the identical URL.
temp_url_cache = sa.Table(
    "temp_url_cache",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("cache_key", sa.String(64), nullable=False, unique=True),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False),
    sa.Column("account", sa.String(256), nullable=False),
    sa.Column("container", sa.String(256), nullable=False),
    sa.Column("object_name", sa.Text, nullable=False),
    # HMAC of a fixed label under the key: tells keys apart, cannot be used to sign.
    sa.Column("key_id", sa.String(64), nullable=False),
    sa.Column("digest", sa.String(16), nullable=False),
    sa.Column("lifetime", sa.Integer, nullable=False),
    # Unix time, as in the URL's temp_url_expires.
    sa.Column("expires_at", sa.BigInteger, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Index("temp_url_cache_expires_at_idx", "expires_at"),
)


@dataclasses.dataclass(slots=True)
class TempURLEntry:
    id: int
    cache_key: str
    method: str
    endpoint: str
    account: str
    container: str
    object_name: str
    key_id: str
    digest: str
    lifetime: int
    expires_at: int
    created_at: datetime.datetime


_check_field_order(TempURLEntry, temp_url_cache)

# What inspection found on a node (migration 0005): the agent's inventory and the plugin
# data beside it, one row per node, replaced by each inspection (GET .../inventory).
node_inventory = sa.Table(
    "node_inventory",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("node_id", sa.Integer, sa.ForeignKey("nodes.id", ondelete="CASCADE"),
              nullable=False, unique=True),
    sa.Column("inventory", sa.JSON, nullable=False),
    sa.Column("plugin_data", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)

# Operator inspection rules (migration 0005), as Ironic's /v1/inspection_rules.
inspection_rules = sa.Table(
    "inspection_rules",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("uuid", sa.String(36), nullable=False, unique=True),
    sa.Column("description", sa.Text, nullable=True),
    sa.Column("priority", sa.Integer, nullable=False),
    sa.Column("sensitive", sa.Boolean, nullable=False),
    sa.Column("phase", sa.String(16), nullable=False),
    sa.Column("conditions", sa.JSON, nullable=False),
    sa.Column("actions", sa.JSON, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=True),
)


@dataclasses.dataclass(slots=True)
class InspectionRule:
    id: int
    uuid: str
    description: str | None
    priority: int
    sensitive: bool
    phase: str
    conditions: list[dict[str, Any]]
    actions: list[dict[str, Any]]
    created_at: datetime.datetime
    updated_at: datetime.datetime | None


_check_field_order(InspectionRule, inspection_rules)
