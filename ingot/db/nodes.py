"""Queries on nodes. Every change is one conditional UPDATE: no read-modify-write."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import sqlalchemy as sa

from ingot.db.engine import lands_alone
from ingot.db.models import (
    DESCRIPTION_PREFIX,
    Node,
    PartialNode,
    allocations,
    bios_settings,
    description_order,
    firmware_components,
    node_history,
    node_inventory,
    nodes,
    nodes_description_fts,
    portgroups,
    ports,
    utcnow,
    volume_connectors,
    volume_targets,
)
from ingot.db.prepared import Prepared, driver_cursor, execute

# The sort keys lists accept (docs/api.md). Each has an index on (key, id) (migration
# 0006; description's is on its first DESCRIPTION_PREFIX characters, migration 0017) so
# that a page is an index walk of `limit` rows whatever the fleet size;
# tests/db/test_list_plans.py fails if one would scan or sort.
SORTABLE = ("id", "uuid", "name", "created_at", "updated_at", "provision_updated_at",
            "driver", "provision_state", "power_state", "target_provision_state",
            "maintenance", "resource_class", "conductor_group", "owner", "lessee",
            "instance_uuid", "fault", "retired", "protected", "description")
# A trigram index (migration 0017) serves a description_contains value this long or
# longer; a shorter one has no trigram to look up, and its list walks the nodes in order.
TRIGRAM = 3


class StaleMarker(LookupError):
    """The pagination marker names a node that does not exist."""


@dataclasses.dataclass(slots=True)
class NodeFilters:
    """List filters, named as the API's query parameters."""

    driver: str | None = None
    provision_state: str | None = None
    maintenance: bool | None = None
    associated: bool | None = None
    retired: bool | None = None
    conductor_group: str | None = None
    resource_class: str | None = None
    owner: str | None = None
    lessee: str | None = None
    project: str | None = None
    fault: str | None = None
    instance_uuid: str | None = None
    description_contains: str | None = None
    conductor: str | None = None
    chassis_uuid: str | None = None
    shard: list[str] | None = None
    sharded: bool | None = None
    instance_name: str | None = None
    # Children (nodes with a parent_node) are listed only when asked for, as in Ironic.
    include_children: bool = False
    parent_node: str | None = None

    def shape(self) -> tuple[Any, ...]:
        """Which filters are set (and how, for those that change the SQL): lists with
        the same shape share their statements, the values being bound parameters."""
        shape: list[Any] = [name for name in _EQUAL if getattr(self, name) is not None]
        for name in ("associated", "sharded"):
            value = getattr(self, name)
            if value is not None:
                shape.append((name, value))
        if self.description_contains is not None:
            shape.append(("description_contains", len(self.description_contains) >= TRIGRAM))
        for name in ("shard", "project"):
            if getattr(self, name) is not None:
                shape.append(name)
        if not self.include_children:
            shape.append(("parent_node", self.parent_node is None))
        return tuple(shape)

    def params(self) -> dict[str, Any]:
        """The values of the bound parameters of the shape's statements."""
        params = {name: getattr(self, name) for name in _EQUAL
                  if getattr(self, name) is not None}
        if self.description_contains is not None:
            # A substring, as Ironic documents it: % and _ are the user's characters.
            value = self.description_contains
            params["description_contains"] = "%" + (value.replace("/", "//").replace(
                "%", "/%").replace("_", "/_")) + "%"
            # The FTS5 query of SQLite's trigram index: one quoted phrase, the value's
            # trigrams in a row, i.e. the substring (case folded; LIKE then decides).
            params["description_match"] = '"' + value.replace('"', '""') + '"'
        if self.shard is not None:
            params["shard"] = self.shard
        if self.project is not None:
            params["project"] = self.project
        if not self.include_children and self.parent_node is not None:
            params["parent_node"] = self.parent_node
        return params


# Filters that are one column equal to the value; conductor is the affinity's.
_EQUAL = ("driver", "provision_state", "conductor_group", "resource_class", "owner",
          "lessee", "fault", "instance_uuid", "maintenance", "retired", "chassis_uuid",
          "conductor", "instance_name")


def _bound(name: str, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
    # Typed as the column: SQLAlchemy converts a bound boolean or timestamp by its type.
    return sa.bindparam(name, type_=column.type)


def _branches(shape: tuple[Any, ...]) -> list[list[sa.ColumnElement[bool]]]:
    """A shape's conditions as a disjunction of conjunctions, each one index-served:
    ``project`` (owner or lessee) is two branches, since one OR cannot walk one index
    in order."""
    c = nodes.c
    clauses: list[sa.ColumnElement[bool]] = []
    for item in shape:
        if item in _EQUAL:
            column = c.conductor_affinity if item == "conductor" else c[item]
            clauses.append(column == _bound(item, column))
        elif item == ("associated", True):
            clauses.append(c.instance_uuid.is_not(None))
        elif item == ("associated", False):
            clauses.append(c.instance_uuid.is_(None))
        elif item == ("sharded", True):
            clauses.append(c.shard.is_not(None))
        elif item == ("sharded", False):
            clauses.append(c.shard.is_(None))
        elif isinstance(item, tuple) and item[0] == "description_contains":
            # LIKE as Ironic's query: case-insensitive for ASCII letters on SQLite,
            # case-sensitive on PostgreSQL. pg_trgm's index serves it as it is.
            clauses.append(c.description.like(_bound("description_contains", c.description),
                                              escape="/"))
        elif item == "shard":
            clauses.append(c.shard.in_(sa.bindparam("shard", expanding=True)))
        elif item == ("parent_node", True):
            clauses.append(c.parent_node.is_(None))
        elif item == ("parent_node", False):
            clauses.append(c.parent_node == _bound("parent_node", c.parent_node))
    if "project" not in shape:
        return [clauses]
    return [[*clauses, c.owner == _bound("project", c.owner)],
            [*clauses, c.lessee == _bound("project", c.lessee)]]


def _record(row: sa.Row[Any]) -> Node:
    # The row holds the record's fields in order; mypy cannot count a Row's columns.
    return Node(*row)  # type: ignore[call-arg]


# Prepared once: the node GET path is the hottest query of the API.
_BY_UUID = Prepared(sa.select(nodes).where(nodes.c.uuid == sa.bindparam("value")))
_BY_NAME = Prepared(sa.select(nodes).where(nodes.c.name == sa.bindparam("value")))
_BY_ID = Prepared(sa.select(nodes).where(nodes.c.id == sa.bindparam("value")))


def _one(conn: sa.Connection, statement: Prepared, value: Any) -> Node | None:
    rows = statement.rows(conn, {"value": value})
    return Node(*rows[0]) if rows else None


def get_by_uuid(conn: sa.Connection, uuid: str) -> Node | None:
    return _one(conn, _BY_UUID, uuid.lower())


def get_by_name(conn: sa.Connection, name: str) -> Node | None:
    return _one(conn, _BY_NAME, name)


def get_by_id(conn: sa.Connection, node_id: int) -> Node | None:
    return _one(conn, _BY_ID, node_id)


def get_by_macs(conn: sa.Connection, macs: Sequence[str]) -> list[Node]:
    # A subquery, not DISTINCT over a join: PostgreSQL cannot compare json columns.
    owners = sa.select(ports.c.node_id).where(ports.c.address.in_(list(macs)))
    query = sa.select(nodes).where(nodes.c.id.in_(owners))
    return [_record(row) for row in conn.execute(query)]


def exists(conn: sa.Connection, column: str, value: Any) -> bool:
    query = sa.select(nodes.c.id).where(nodes.c[column] == value).limit(1)
    return conn.execute(query).first() is not None


def list_nodes(conn: sa.Connection, filters: NodeFilters, *, sort_key: str = "id",
               sort_dir: str = "asc", limit: int | None = None,
               marker: str | None = None) -> list[Node]:
    """Nodes in (sort_key, id) order, NULLs first ascending, resuming after marker."""
    rows = _list(conn, filters, None, sort_key, sort_dir, limit, marker)
    return [_record(row) for row in rows]


def list_partial(conn: sa.Connection, filters: NodeFilters, columns: Collection[str], *,
                 sort_key: str = "id", sort_dir: str = "asc", limit: int | None = None,
                 marker: str | None = None) -> list[PartialNode]:
    """As list_nodes, reading only the named columns (and id and the sort key): a page
    of the default list fields then neither fetches nor decodes any JSON column."""
    wanted = {*columns, "id", sort_key}
    # In the table's order, so that a page's statement is the same whatever the
    # order the fields were asked in (one cached compilation).
    names = tuple(column.name for column in nodes.columns if column.name in wanted)
    rows = _list(conn, filters, names, sort_key, sort_dir, limit, marker)
    return [PartialNode(dict(zip(names, row, strict=True))) for row in rows]


def _list(conn: sa.Connection, filters: NodeFilters, selected: tuple[str, ...] | None,
          sort_key: str, sort_dir: str, limit: int | None, marker: str | None
          ) -> list[sa.Row[Any]]:
    """The rows of the selected columns (None: whole nodes) of a page."""
    ascending = sort_dir == "asc"
    params = filters.params()
    anchor_kind = None
    if marker is not None:
        row = conn.execute(_marker_query(sort_key), {"marker": marker.lower()}).first()
        if row is None:
            raise StaleMarker(marker)
        params.update(anchor_value=row[0], anchor_id=row[1])
        anchor_kind = "id" if sort_key == "id" else "null" if row[0] is None else "value"
    # SQLite's statistics count rows per value, not NULLs: on a column every node has
    # the same value of (power_state) it reckons the NULL run is every node too and
    # scans the table to find none. Unfiltered, the sort column's index is the walk.
    shape = filters.shape()
    sqlite = conn.dialect.name == "sqlite"
    null_rare = sqlite and filters.parent_node is None \
        and set(shape) <= {("parent_node", True)}
    trigrams = None
    if sqlite and ("description_contains", True) in shape:
        trigrams = "drive" if sort_key == "id" else "set" if conn.execute(
            _FEW_MATCHES, params).scalar_one() < FEW_MATCHES else None
    pages = _page_queries(selected, shape, sort_key, ascending, anchor_kind,
                          limit is not None, null_rare, sqlite, trigrams)
    found: dict[int, sa.Row[Any]] = {}
    for queries in pages:
        walked = 0
        for query in queries:
            if limit is not None:
                if walked >= limit:
                    break
                params["limit"] = limit - walked
            rows = conn.execute(query, params).all()
            walked += len(rows)
            for found_row in rows:
                found[found_row.id] = found_row
    if len(pages) == 1:
        return list(found.values())
    # Each branch came sorted; their union needs the same order (and dedup by id).
    merged = sorted(found.values(),
                    key=lambda r: _sort_tuple(sort_key, getattr(r, sort_key), r.id),
                    reverse=not ascending)
    return merged[:limit] if limit is not None else merged


def _sort_tuple(sort_key: str, value: Any, row_id: int) -> tuple[Any, ...]:
    if value is None:
        return (False, 0, row_id)
    if sort_key == "description":
        value = value[:DESCRIPTION_PREFIX]  # SQL's substr counts characters too
    return (True, value, row_id)


def _order_column(sort_key: str) -> sa.ColumnElement[Any]:
    """What a list sorted by sort_key orders by (before id)."""
    return description_order if sort_key == "description" else nodes.c[sort_key]


# The statements of a list's shape, built once: building one costs as much as running it.
# Bounded: a shape is the columns of the fields asked for, the filters set and the sort.
_PAGE_QUERIES: dict[tuple[Any, ...], list[list[sa.Select[Any]]]] = {}


def _marker_query(sort_key: str) -> sa.Executable:
    """The sort key's value and the id of the node a marker names."""
    query = _MARKER_QUERIES.get(sort_key)
    if query is None:
        query = sa.select(_order_column(sort_key), nodes.c.id).where(
            nodes.c.uuid == sa.bindparam("marker", type_=nodes.c.uuid.type))
        _MARKER_QUERIES[sort_key] = query
    return query


_MARKER_QUERIES: dict[str, sa.Executable] = {}

# Below this many matches in SQLite's trigram index, a list in another order than id
# reads them all and sorts them; from this many on, the sort key's walk meets one
# within FEW_MATCHES / fleet size rows. Counted up to the bound, no further.
FEW_MATCHES = 1000
_FEW_MATCHES = sa.select(sa.func.count()).select_from(
    sa.select(sa.literal_column("1")).select_from(nodes_description_fts)
    .where(nodes_description_fts.c.nodes_description_fts.op("MATCH")(
        sa.bindparam("description_match", type_=sa.Text)))
    .limit(FEW_MATCHES).subquery())


def _page_queries(selected: tuple[str, ...] | None, shape: tuple[Any, ...], sort_key: str,
                  ascending: bool, anchor_kind: str | None, limited: bool, null_rare: bool,
                  sqlite: bool, trigrams: str | None) -> list[list[sa.Select[Any]]]:
    """Per branch of the filters, the queries of its walk in list order: the NULL and
    non-NULL runs of the sort column as separate queries, because "NULLs first" is not
    an order either database's index walks on its own (and a keyset condition with an
    OR across both runs scans). trigrams: how SQLite's trigram index serves
    description_contains, if it does ("drive" or "set")."""
    key = (selected, shape, sort_key, ascending, anchor_kind, limited, null_rare, sqlite,
           trigrams)
    found = _PAGE_QUERIES.get(key)
    if found is not None:
        return found
    column = _order_column(sort_key)
    columns = [nodes] if selected is None else [nodes.c[name] for name in selected]
    # SQLite's trigram index is an FTS5 table. In id order it drives the walk: it yields
    # its matches by rowid (= node id), from the marker on, so a page reads its rows
    # and what LIKE rejects, whether few or most nodes match. In another order, fewer
    # than FEW_MATCHES matches are read as a set and sorted; more, and the sort column's
    # walk checks LIKE: reading them all took 80 ms a page at 100k nodes for a value
    # every node holds, against 5 ms for the walk (and 230 ms for a walk to a rare one).
    fts = nodes_description_fts
    driven = trigrams == "drive"
    id_column = fts.c.rowid if driven else nodes.c.id
    order = (column, id_column) if sort_key != "id" else (id_column,)
    found = []
    for clauses in _branches(shape):
        if trigrams is not None:
            match = fts.c.nodes_description_fts.op("MATCH")(
                sa.bindparam("description_match", type_=sa.Text))
            clauses = [*clauses, match if driven else
                       nodes.c.id.in_(sa.select(fts.c.rowid).where(match))]
        queries = []
        for segment, one_value in _segments(column, nodes.c[sort_key].nullable, id_column,
                                            ascending, anchor_kind, null_rare):
            query = sa.select(*columns)
            if driven:
                query = query.select_from(fts.join(nodes, nodes.c.id == fts.c.rowid))
            # SQLite sees an indexed expression fixed by the WHERE clause (description's
            # prefix NULL, or the marker's), but not that this makes it constant in the
            # ORDER BY: it sorted the run, which is in id order.
            by = (id_column,) if one_value and sqlite and column is description_order \
                else order
            query = (query.where(*clauses, *segment)
                     .order_by(*(o if ascending else o.desc() for o in by)))
            if limited:
                query = query.limit(sa.bindparam("limit", type_=sa.Integer))
            queries.append(query)
        found.append(queries)
    if len(_PAGE_QUERIES) >= 1024:
        _PAGE_QUERIES.clear()
    _PAGE_QUERIES[key] = found
    return found


def _segments(column: sa.ColumnElement[Any], nullable: bool | None,
              id_column: sa.ColumnElement[int], ascending: bool, anchor_kind: str | None,
              null_rare: bool = False) -> list[tuple[list[sa.ColumnElement[bool]], bool]]:
    """The conditions of the runs still to read, in list order, each an index range on
    (column, id), and whether the run is one value of the column (NULL, or the
    marker's). Past a marker, the rest of the marker's value (column = v, id beyond)
    and the values beyond it are two ranges: SQLite bounds a row-value comparison by its
    first column only, which walks every node sharing a common value. The marker's
    value and id are the parameters anchor_value and anchor_id. null_rare tells
    SQLite's planner that few nodes are NULL (its unlikely())."""
    anchor_id = sa.bindparam("anchor_id", type_=sa.Integer)
    beyond = id_column > anchor_id if ascending else id_column < anchor_id
    if anchor_kind is None:
        past: list[tuple[list[sa.ColumnElement[bool]], bool]] = [([], False)]
    elif anchor_kind == "id":
        past = [([beyond], False)]
    elif anchor_kind == "null":
        past = []
    else:
        value = _bound("anchor_value", column)
        past = [([column == value, beyond], True),
                ([column > value if ascending else column < value], False)]
    if not nullable:
        return past
    not_null = column.is_not(None)
    values = [([not_null, *segment], one) for segment, one in past]
    is_null = column.is_(None)
    nulls: list[sa.ColumnElement[bool]] = [
        sa.func.unlikely(is_null) if null_rare else is_null]
    if anchor_kind is None:
        return [(nulls, True), *values] if ascending else [*values, (nulls, True)]
    if anchor_kind == "null":
        nulls.append(beyond)
        return [(nulls, True), ([not_null], False)] if ascending else [(nulls, True)]
    return values if ascending else [*values, (nulls, True)]


def insert(conn: sa.Connection, values: Mapping[str, Any]) -> Node:
    row = conn.execute(sa.insert(nodes).values(**values).returning(nodes)).one()
    return _record(row)


def update(conn: sa.Connection, node_id: int, values: Mapping[str, Any],
           **expected: Any) -> bool:
    """Apply values if the row still matches every expected column; True if it did.

    An expected value of None means the column must be NULL; a tuple means any of
    its values.
    """
    # A node that forgets its instance forgets the allocation that stood for it, as
    # Ironic's does (undeploy, or instance_uuid removed by a PATCH).
    unlinks = "instance_uuid" in values and values["instance_uuid"] is None
    params: dict[str, Any] = {"node_id": node_id, "v_updated_at": utcnow()}
    params.update(("v_" + name, value) for name, value in values.items())
    if unlinks:
        params["v_allocation_uuid"] = None
    shape = []
    for name, value in expected.items():
        if value is None:
            shape.append((name, _IS_NULL))
        elif isinstance(value, tuple):
            shape.append((name, _IS_IN))
            params["e_" + name] = list(value)
        else:
            shape.append((name, _IS))
            params["e_" + name] = value
    names = tuple(name[2:] for name in params if name.startswith("v_"))
    expressions = {name: value for name, value in values.items()
                   if isinstance(value, sa.ClauseElement)}
    if expressions or _IS_IN in (kind for _name, kind in shape) or not lands_alone(conn):
        statement = _update_statement(names, tuple(shape))
        if expressions:  # a SQL expression as a value: in the statement, not a bind
            statement = statement.values(expressions)
        rowcount = conn.execute(statement, params).rowcount
    else:
        rowcount = _run_update(conn, names, tuple(shape), params)
    if rowcount == 1 and unlinks:
        conn.execute(sa.delete(allocations).where(allocations.c.node_id == node_id))
    return rowcount == 1


def _run_update(conn: sa.Connection, names: tuple[str, ...],
                shape: tuple[tuple[str, str], ...], params: dict[str, Any]) -> int:
    """Run _update_statement() on the driver's cursor, its SQL compiled once per
    dialect: SQLAlchemy's execution around it (execution context, parameter
    construction, events, result) was most of a conductor write's CPU on SQLite, where
    each batched write is its own UPDATE, and of every provision request's."""
    sql, order, fixed, processors = _update_compiled(conn.dialect, names, shape)
    bound = {**fixed, **params}
    for name, process in processors:
        bound[name] = process(bound[name])
    cursor = driver_cursor(conn)
    try:
        execute(conn, cursor, sql,
                bound if order is None else tuple(bound[name] for name in order))
        return int(cursor.rowcount)
    finally:
        cursor.close()


@functools.lru_cache(maxsize=512)
def _update_compiled(dialect: sa.Dialect, names: tuple[str, ...],
                     shape: tuple[tuple[str, str], ...]
                     ) -> tuple[str, tuple[str, ...] | None, dict[str, Any],
                                list[tuple[str, Any]]]:
    """SQL of _update_statement() for the dialect, the bind names in a positional
    paramstyle's order (None for a named one), its binds' fixed values, and the
    processors SQLAlchemy would apply to the binds (JSON serialised, timestamps and
    booleans converted for SQLite)."""
    compiled = _update_statement(names, shape).compile(dialect=dialect)
    processors = [(name, process) for bind, name in compiled.bind_names.items()
                  if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))
                  is not None]
    fixed = {name: bind.value for bind, name in compiled.bind_names.items()
             if not bind.required}
    order = tuple(compiled.positiontup or ()) if dialect.positional else None
    return compiled.string, order, fixed, processors


_IS_NULL, _IS_IN, _IS = "null", "in", "equal"


@functools.lru_cache(maxsize=512)
def _update_statement(names: tuple[str, ...],
                      shape: tuple[tuple[str, str], ...]) -> sa.Update:
    """The UPDATE of update() for these columns and expectations, built once: building
    and cache-keying a fresh statement was two thirds of a conductor write's CPU. Its
    binds are typed as the columns, as SQLAlchemy types a literal value."""
    clauses = [nodes.c.id == sa.bindparam("node_id", type_=nodes.c.id.type)]
    for name, kind in shape:
        column = nodes.c[name]
        if kind == _IS_NULL:
            clauses.append(column.is_(None))
        elif kind == _IS_IN:
            clauses.append(column.in_(sa.bindparam("e_" + name, type_=column.type,
                                                   expanding=True)))
        else:
            clauses.append(column == sa.bindparam("e_" + name, type_=column.type))
    columns: dict[str, Any] = {name: sa.bindparam("v_" + name, type_=nodes.c[name].type)
                               for name in names}
    columns["revision"] = nodes.c.revision + 1
    return sa.update(nodes).where(*clauses).values(columns)


def update_held(conn: sa.Connection, writes: Sequence[tuple[int, str, Mapping[str, Any]]]
                ) -> set[int]:
    """Apply each (node id, host, values) if host still holds the node; the ids written.

    On PostgreSQL the writes setting the same columns are one UPDATE from a VALUES list:
    a conductor's tick of writes is then a few round trips, not one per node. SQLite's
    statements are calls into the library, so there each write keeps its own.
    """
    done: set[int] = set()
    alike: dict[tuple[str, ...], list[tuple[int, str, Mapping[str, Any]]]] = {}
    for write in writes:
        node_id, host, values = write
        if conn.dialect.name == "sqlite" or len(writes) == 1 \
                or ("instance_uuid" in values and values["instance_uuid"] is None):
            if update(conn, node_id, values, reservation=host):
                done.add(node_id)
        else:
            alike.setdefault(tuple(sorted(values)), []).append(write)
    for names, group in alike.items():
        for start in range(0, len(group), _MOST_ALIKE):
            chunk = group[start:start + _MOST_ALIKE]
            size = 1 << (len(chunk) - 1).bit_length()
            params: dict[str, Any] = {"updated_at": utcnow()}
            for row, (node_id, host, values) in enumerate(chunk):
                params[f"r{row}_node_id"] = node_id
                params[f"r{row}_host"] = host
                params.update((f"r{row}_{name}", values[name]) for name in names)
            # Rows past the writes (the statement's size is a power of two, so that
            # few are built) match no node: an id of NULL equals none.
            for row in range(len(chunk), size):
                params[f"r{row}_node_id"] = params[f"r{row}_host"] = None
                params.update((f"r{row}_{name}", None) for name in names)
            done.update(_run_alike(conn, names, size, params))
    return done


def _run_alike(conn: sa.Connection, names: tuple[str, ...], size: int,
               params: dict[str, Any]) -> list[int]:
    """Run _alike_statement() as SQL compiled once: a VALUES list with data has no
    cache key, so SQLAlchemy would compile it again for every batch, most of
    update_held's CPU. On the driver's cursor, as update() runs its statements."""
    sql, fixed, processors = _alike_compiled(conn.dialect, names, size)
    bound = {**fixed, **params}
    for name, process in processors:
        bound[name] = process(bound[name])
    if not lands_alone(conn):
        return [row[0] for row in conn.exec_driver_sql(sql, bound)]
    cursor = driver_cursor(conn)
    try:
        execute(conn, cursor, sql, bound)
        return [row[0] for row in cursor.fetchall()]
    finally:
        cursor.close()


@functools.lru_cache(maxsize=256)
def _alike_compiled(dialect: sa.Dialect, names: tuple[str, ...], size: int
                    ) -> tuple[str, dict[str, Any], list[tuple[str, Any]]]:
    """SQL of _alike_statement() for the dialect, its binds' fixed values, and the
    processors SQLAlchemy would apply to the binds (JSON serialised, as it would)."""
    compiled = _alike_statement(names, size).compile(dialect=dialect)
    processors = [(name, process) for name, bind in compiled.binds.items()
                  if (process := bind.type.dialect_impl(dialect).bind_processor(dialect))
                  is not None]
    fixed = {name: bind.value for name, bind in compiled.binds.items() if not bind.required}
    return compiled.string, fixed, processors


# Writes per UPDATE from a VALUES list: a longer list is more binds to send than
# round trips saved.
_MOST_ALIKE = 256


def _alike_statement(names: tuple[str, ...], size: int) -> sa.Update:
    """update_held()'s UPDATE of size writes setting these columns, with binds."""
    types = {"node_id": nodes.c.id.type, "host": nodes.c.reservation.type,
             **{name: nodes.c[name].type for name in names}}
    source = sa.values(*(sa.column(name, type_) for name, type_ in types.items()),
                       name="written").data(
        [tuple(sa.bindparam(f"r{row}_{name}", type_=type_) for name, type_ in types.items())
         for row in range(size)])
    # VALUES types a column of NULLs as text: each is cast to its column's type.
    columns: dict[str, Any] = {"updated_at": sa.bindparam("updated_at",
                                                          type_=nodes.c.updated_at.type)}
    columns.update({name: sa.cast(source.c[name], nodes.c[name].type) for name in names})
    columns["revision"] = nodes.c.revision + 1
    return (sa.update(nodes)
            .where(nodes.c.id == source.c.node_id, nodes.c.reservation == source.c.host)
            .values(columns).returning(nodes.c.id))


def delete(conn: sa.Connection, node_id: int, **expected: Any) -> bool:
    clauses = [nodes.c.id == node_id]
    clauses += [nodes.c[name].is_(None) if value is None else nodes.c[name] == value
                for name, value in expected.items()]
    for dependent in (ports, portgroups, volume_connectors, volume_targets, node_history,
                      node_inventory, bios_settings, firmware_components, allocations):
        conn.execute(sa.delete(dependent).where(dependent.c.node_id == node_id))
    return conn.execute(sa.delete(nodes).where(*clauses)).rowcount == 1


def claim_pending(conn: sa.Connection, host: str, groups: Sequence[str],
                  hardware_types: Sequence[str], limit: int) -> list[Node]:
    """Reserve up to limit nodes with pending work for host, in one UPDATE.

    Conductors racing for the same rows each re-check ``reservation IS NULL`` on the
    row they update, so every node goes to exactly one of them.
    """
    claim = _prepared_claim(tuple(groups), tuple(hardware_types))
    return [Node(*row) for row in claim.rows(conn, {"host": host, "limit": limit})]


@functools.lru_cache(maxsize=32)
def _prepared_claim(groups: tuple[str, ...], hardware_types: tuple[str, ...]) -> Prepared:
    """claim_statement() prepared once per conductor's groups and hardware types: a
    conductor claims after every wake-up, and SQLAlchemy building and running the
    UPDATE afresh each pass was a tenth of ingot serve's CPU in a 1000-node deploy."""
    return Prepared(claim_statement(groups, hardware_types))


def claim_statement(groups: Sequence[str], hardware_types: Sequence[str]) -> sa.Update:
    """claim_pending()'s UPDATE, its binds host and limit; the groups and hardware
    types are binds with their values (one each: not an expanding IN)."""
    candidates = (sa.select(nodes.c.id)
                  .where(nodes.c.pending_action.is_not(None),
                         nodes.c.reservation.is_(None),
                         nodes.c.conductor_group.in_(
                             [sa.bindparam(f"group_{i}", group, type_=nodes.c.conductor_group.type)
                              for i, group in enumerate(groups)]),
                         nodes.c.driver.in_(
                             [sa.bindparam(f"type_{i}", name, type_=nodes.c.driver.type)
                              for i, name in enumerate(hardware_types)]))
                  .order_by(nodes.c.updated_at)
                  .limit(sa.bindparam("limit", type_=sa.Integer))
                  # Rows another transaction holds (a conductor writing its batch) are
                  # skipped, not waited for: a claim never closes a lock cycle.
                  .with_for_update(skip_locked=True)
                  .scalar_subquery())
    host = sa.bindparam("host", type_=nodes.c.reservation.type)
    return (sa.update(nodes)
            .where(nodes.c.id.in_(candidates),
                   nodes.c.reservation.is_(None),
                   nodes.c.pending_action.is_not(None))
            .values(reservation=host, conductor_affinity=host,
                    revision=nodes.c.revision + 1)
            .returning(nodes))


def release(conn: sa.Connection, node_id: int, host: str, values: Mapping[str, Any]) -> bool:
    """Write the outcome of host's work and drop its reservation in one UPDATE."""
    return update(conn, node_id, {**values, "reservation": None}, reservation=host)


def requeue_heartbeat(conn: sa.Connection, node_id: int, states: Sequence[str],
                      since: Any) -> bool:
    """Queue a heartbeat that arrived while a conductor held the node (the API does not
    queue work on reserved nodes, and the agent may not heartbeat again for a while)."""
    result = conn.execute(
        sa.update(nodes)
        .where(nodes.c.id == node_id, nodes.c.reservation.is_(None),
               nodes.c.pending_action.is_(None), nodes.c.provision_state.in_(list(states)),
               nodes.c.agent_last_heartbeat > since)
        .values(pending_action="heartbeat", pending_args={}, revision=nodes.c.revision + 1))
    return result.rowcount == 1


def ids_reserved_by(conn: sa.Connection, hosts: Sequence[str]) -> list[Node]:
    query = sa.select(nodes).where(nodes.c.reservation.in_(list(hosts)))
    return [_record(row) for row in conn.execute(query)]


def in_states_since(conn: sa.Connection, states: Sequence[str], before: Any,
                    groups: Sequence[str]) -> list[Node]:
    """Unreserved nodes that entered one of states before the given time."""
    query = sa.select(nodes).where(nodes.c.provision_state.in_(list(states)),
                                   nodes.c.provision_updated_at < before,
                                   nodes.c.reservation.is_(None),
                                   nodes.c.pending_action.is_(None),
                                   nodes.c.conductor_group.in_(list(groups)))
    return [_record(row) for row in conn.execute(query)]


def active_with_deploy_interface(conn: sa.Connection, interface: str) -> list[Node]:
    rows = conn.execute(sa.select(nodes).where(nodes.c.provision_state == "active",
                                               nodes.c.deploy_interface == interface))
    return [_record(row) for row in rows]


def shards(conn: sa.Connection) -> list[tuple[str | None, int]]:
    """(shard, node count) for every shard, the most populated first."""
    query = sa.select(nodes.c.shard, sa.func.count()).group_by(nodes.c.shard)
    return sorted(((row[0], int(row[1])) for row in conn.execute(query)),
                  key=lambda item: -item[1])


def children(conn: sa.Connection, parent_uuid: str) -> list[str]:
    query = sa.select(nodes.c.uuid).where(nodes.c.parent_node == parent_uuid) \
        .order_by(nodes.c.id)
    return [row[0] for row in conn.execute(query)]


def count(conn: sa.Connection) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(nodes)).scalar_one())


def for_power_sync(conn: sa.Connection, groups: Sequence[str], hardware_types: Sequence[str],
                   in_states: Sequence[str], failure_fault: str) -> list[Node]:
    """Nodes whose power state a conductor reads from their BMC: idle (no reservation,
    no pending work) and out of maintenance, or in it only for a power failure."""
    statement = (sa.select(nodes)
                 .where(nodes.c.reservation.is_(None), nodes.c.pending_action.is_(None),
                        nodes.c.conductor_group.in_(list(groups)),
                        nodes.c.driver.in_(list(hardware_types)),
                        nodes.c.provision_state.in_(list(in_states)),
                        sa.or_(nodes.c.maintenance.is_(False),
                               nodes.c.fault == failure_fault))
                 .order_by(nodes.c.id))
    return [_record(row) for row in conn.execute(statement)]
