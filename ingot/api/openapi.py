"""The OpenAPI 3 document of the API ingot serves (GET /v1/openapi.json).

It describes every route of ``ingot.api.app`` (a test compares the two) with the
request shapes the handlers accept; answers are described loosely (Ironic's shapes
depend on the microversion). Errors are Ironic's ``{"error_message": "<JSON>"}``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ingot.api import chassis, microversion, portgroups, runbooks, vmedia, volume
from ingot.api.allocation_fields import ALLOCATION
from ingot.api.deploy_template_fields import DEPLOY_TEMPLATE
from ingot.api.fields import Resource
from ingot.api.node_fields import NODE
from ingot.api.port_fields import PORT
from ingot.api.responses import json_response

UNSUPPORTED = ("events",)

_JSON = "application/json"
_OBJECT: dict[str, Any] = {"type": "object"}
_STRING: dict[str, Any] = {"type": "string"}
_BOOL: dict[str, Any] = {"type": "boolean"}


def _error() -> dict[str, Any]:
    return {"description": "Ironic's error body: error_message is a JSON string holding "
                           "faultcode, faultstring and debuginfo.",
            "content": {_JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}}


def _answer(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    if schema is None:
        return {"description": description}
    return {"description": description, "content": {_JSON: {"schema": schema}}}


def _operation(summary: str, ok: dict[str, dict[str, Any]], *,
               params: list[dict[str, Any]] | None = None,
               body: dict[str, Any] | None = None, public: bool = False) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "parameters": [{"$ref": "#/components/parameters/Version"}, *(params or [])],
        "responses": {**ok, "default": _error()},
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {_JSON: {"schema": body}}}
    if public:
        op["security"] = []
    return op


def _path(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": description,
            "schema": {"type": "string", "minLength": 1}}


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema,
            **({"description": description} if description else {})}


_NODE = {**_path("node", "A node's UUID or name."), "example": "node-1"}
_PORT = _path("port", "A port's UUID.")
_PAGING = [
    _query("limit", {"type": "integer"}),
    _query("marker", _STRING, "UUID of the last item of the previous page."),
    _query("sort_key", _STRING), _query("sort_dir", {"type": "string",
                                                       "enum": ["asc", "desc"]}),
    _query("fields", _STRING, "Comma-separated field names (API 1.8)."),
    _query("detail", _BOOL, "API 1.43."),
]
_NODE_FILTERS = [
    _query(name, _STRING) for name in (
        "driver", "provision_state", "resource_class", "fault", "owner", "lessee",
        "project", "description_contains", "conductor", "conductor_group",
        "parent_node", "instance_name")
] + [_query("instance_uuid", {"type": "string", "format": "uuid"}),
     _query("shard", _STRING, "Comma-separated shards (API 1.82).")] + [
    _query(name, _BOOL) for name in ("maintenance", "associated", "retired", "sharded",
                                     "include_children")]
_ALLOCATION = _path("allocation", "An allocation's UUID or name.")
_ALLOCATION_FILTERS = [_query(name, _STRING) for name in (
    "node", "resource_class", "state", "owner")]
_PORT_FILTERS = [_query("node", _STRING), _query("node_uuid", _STRING),
                 _query("address", _STRING), _query("portgroup", _STRING),
                 _query("conductor_groups", _STRING, "Comma-separated; alone.")]


def _port_create() -> dict[str, Any]:
    """A port names its node by node_uuid or, from API 1.94, by node_ident."""
    schema = create_schema(PORT)
    schema["properties"] = {**schema["properties"], "node_ident": {
        **_STRING, "description": "The node's name or UUID, instead of node_uuid."}}
    schema["required"] = [name for name in schema.get("required", ()) if name != "node_uuid"]
    return schema


def create_schema(resource: Resource) -> dict[str, Any]:
    """A create body's schema, from the resource's field table."""
    return {"type": "object", "additionalProperties": False,
            "required": [spec.name for spec in resource.fields if spec.required],
            "properties": {spec.name: dict(spec.schema) for spec in resource.fields
                           if spec.writable_on_create}}


def _allocation_create() -> dict[str, Any]:
    schema = create_schema(ALLOCATION)
    del schema["required"]  # resource_class, unless node names a node to backfill
    schema["properties"]["node"] = {"type": "string", "nullable": True,
                                    "description": "A deployed node to backfill (API 1.58)."}
    return schema


def _schemas() -> dict[str, Any]:
    patch_op = {
        "type": "object", "required": ["op", "path"],
        "properties": {"op": {"type": "string",
                              "enum": ["add", "replace", "remove", "test"]},
                       "path": {"type": "string", "pattern": "^/"},
                       "value": {}},
    }
    return {
        "Error": {"type": "object", "required": ["error_message"],
                  "properties": {"error_message": _STRING}},
        "Node": {"type": "object", "description": "A node; driver_info, instance_info and "
                 "driver_internal_info are masked (docs/api.md)."},
        "NodeCreate": create_schema(NODE),
        "JsonPatch": {"type": "array", "minItems": 1, "items": patch_op},
        "PowerState": {
            "type": "object", "required": ["target"], "additionalProperties": False,
            "properties": {"target": {"type": "string", "enum": [
                "power on", "power off", "rebooting", "soft power off", "soft rebooting"]},
                "timeout": {"type": "integer", "minimum": 1}}},
        "ProvisionState": {
            "type": "object", "required": ["target"], "additionalProperties": False,
            "properties": {
                "target": {"type": "string", "enum": [
                    "active", "deploy", "rebuild", "deleted", "undeploy", "manage",
                    "provide", "inspect", "abort", "clean", "adopt", "rescue", "unrescue",
                    "unhold", "service"]},
                "configdrive": {"oneOf": [_STRING, _OBJECT]},
                "clean_steps": {"type": "array", "items": _OBJECT},
                "deploy_steps": {"type": "array", "items": _OBJECT},
                "service_steps": {"type": "array", "items": _OBJECT},
                "rescue_password": _STRING, "disable_ramdisk": _BOOL}},
        "Maintenance": {"type": "object", "properties": {"reason": _STRING}},
        "BootDevice": {"type": "object", "required": ["boot_device"],
                       "additionalProperties": False,
                       "properties": {"boot_device": _STRING, "persistent": _BOOL}},
        "BootMode": {"type": "object", "required": ["target"], "additionalProperties": False,
                     "properties": {"target": {"type": "string", "enum": ["bios", "uefi"]}}},
        "SecureBoot": {"type": "object", "required": ["target"],
                       "additionalProperties": False, "properties": {"target": _BOOL}},
        "Console": {"type": "object", "required": ["enabled"], "additionalProperties": False,
                    "properties": {"enabled": _BOOL}},
        "Traits": {"type": "object", "required": ["traits"],
                   "properties": {"traits": {"type": "array", "items": _STRING}}},
        "PortCreate": _port_create(),
        "AllocationCreate": _allocation_create(),
        "DeployTemplateCreate": create_schema(DEPLOY_TEMPLATE),
        "Heartbeat": {
            "type": "object", "required": ["callback_url", "agent_token"],
            "properties": {
                "callback_url": _STRING, "agent_token": _STRING, "agent_version": _STRING,
                "agent_verify_ca": _STRING,
                "agent_status": {"type": "string", "enum": ["start", "end", "error"]},
                "agent_status_message": _STRING, "agent_progress": _OBJECT,
                "node_ident": {**_STRING, "description": "Only on POST /v1/heartbeat."}}},
        "Inspection": {
            "type": "object", "required": ["inventory"],
            "description": "An agent's inventory (ironic-python-agent's shape: interfaces, "
                           "cpu, memory, disks, boot, system_vendor); every other key is "
                           "plugin data.",
            "properties": {"inventory": {
                "type": "object", "required": ["interfaces", "cpu", "memory", "disks"],
                "properties": {"interfaces": {"type": "array", "minItems": 1,
                                              "items": _OBJECT},
                               "cpu": _OBJECT, "memory": _OBJECT,
                               "disks": {"type": "array", "items": _OBJECT}}},
                "agent_token": _STRING}},
        "InspectionRule": {
            "type": "object", "required": ["actions"],
            "properties": {
                "uuid": {"type": "string", "format": "uuid"}, "description": _STRING,
                "priority": {"type": "integer", "minimum": 0, "maximum": 9999},
                "sensitive": _BOOL, "phase": {"type": "string", "enum": ["main"]},
                "conditions": {"type": "array", "items": _OBJECT},
                "actions": {"type": "array", "minItems": 1, "items": _OBJECT}}},
    }


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _collection(base: str, param: str, title: str, resource: Resource, *, detail: bool,
                filters: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The paths of a list/create/show/patch/delete collection (api/crud.py)."""
    listed = {"200": _answer("A page of items (and next, when there are more).", _OBJECT)}
    one = {"200": _answer(f"The {title}.", _OBJECT)}
    named = param in ("portgroup", "runbook")
    ident = _path(param, f"A {title}'s UUID{' or name' if named else ''}.")
    paths: dict[str, dict[str, Any]] = {
        base: {"get": _operation(f"List {title}s.", listed, params=_PAGING + filters),
               "post": _operation(f"Create a {title}.", {"201": _answer(f"The {title}.",
                                                                         _OBJECT)},
                                  body=create_schema(resource))},
        f"{base}/{{{param}}}": {
            "parameters": [ident],
            "get": _operation(f"Show a {title}.", one, params=[_query("fields", _STRING)]),
            "patch": _operation(f"Update a {title} with a JSON patch.", one,
                                body=_ref("JsonPatch")),
            "delete": _operation(f"Delete a {title}.", {"204": _answer("Done.")})},
    }
    if detail:
        paths[f"{base}/detail"] = {"get": _operation(f"List {title}s, every field.", listed,
                                                     params=_PAGING + filters)}
    return paths


def _sublist(params: list[dict[str, Any]], summary: str) -> dict[str, Any]:
    listed = {"200": _answer("A page of items (and next, when there are more).", _OBJECT)}
    return {"parameters": params, "get": _operation(summary, listed, params=_PAGING)}


def _paths() -> dict[str, dict[str, Any]]:
    listed = {"200": _answer("A page of items (and next, when there are more).", _OBJECT)}
    one = {"200": _answer("The item.", _OBJECT)}
    accepted = {"202": _answer("Accepted; the conductor carries it out.")}
    no_content = {"204": _answer("Done.")}
    node = "/v1/nodes/{node}"
    paths: dict[str, dict[str, Any]] = {
        "/": {"get": _operation("Version discovery.", one, public=True)},
        "/v1": {"get": _operation("API v1 and its resources.", one, public=True)},
        "/v1/": {"get": _operation("API v1 and its resources.", one, public=True)},
        "/v1/openapi.json": {"get": _operation("This document.", one)},
        "/v1/nodes": {
            "get": _operation("List nodes.", listed, params=_PAGING + _NODE_FILTERS),
            "post": _operation("Create a node.", {"201": _answer("The node.", _ref("Node"))},
                               body=_ref("NodeCreate")),
        },
        "/v1/nodes/detail": {"get": _operation("List nodes with every field.", listed,
                                               params=_PAGING + _NODE_FILTERS)},
        node: {
            "parameters": [_NODE],
            "get": _operation("Show a node.", {"200": _answer("The node.", _ref("Node"))},
                              params=[_query("fields", _STRING)]),
            "patch": _operation("Update a node with a JSON patch.",
                                {"200": _answer("The node.", _ref("Node"))},
                                body=_ref("JsonPatch")),
            "delete": _operation("Delete a node.", no_content),
        },
        f"{node}/maintenance": {
            "parameters": [_NODE],
            "put": _operation("Set maintenance mode.", accepted, body=_ref("Maintenance")),
            "delete": _operation("Clear maintenance mode.", accepted),
        },
        f"{node}/traits": {
            "parameters": [_NODE],
            "get": _operation("The node's traits.", one),
            "put": _operation("Replace the node's traits.", no_content, body=_ref("Traits")),
            "delete": _operation("Remove every trait.", no_content),
        },
        f"{node}/traits/{{trait}}": {
            "parameters": [_NODE, _path("trait", "A trait name.")],
            "put": _operation("Add a trait.", no_content),
            "delete": _operation("Remove a trait.", no_content),
        },
        f"{node}/states": {"parameters": [_NODE],
                           "get": _operation("The node's states.", one)},
        f"{node}/states/power": {
            "parameters": [_NODE],
            "put": _operation("Change the power state.", accepted, body=_ref("PowerState"))},
        f"{node}/states/provision": {
            "parameters": [_NODE],
            "put": _operation("Change the provision state.", accepted,
                              body=_ref("ProvisionState"))},
        f"{node}/validate": {"parameters": [_NODE],
                             "get": _operation("Validate the node's interfaces.", one)},
        f"{node}/history": {
            "parameters": [_NODE],
            "get": _operation("The node's history (API 1.78).", listed, params=[
                _query("detail", _BOOL), *_PAGING[:4]])},
        f"{node}/history/{{event}}": {
            "parameters": [_NODE, _path("event", "A history event's UUID.")],
            "get": _operation("One history event (API 1.78).", one)},
        f"{node}/children": {"parameters": [_NODE],
                             "get": _operation("The node's children (API 1.83).", one)},
        "/v1/shards": {"get": _operation("Shards and their node counts (API 1.82).", one)},
        f"{node}/management/boot_device": {
            "parameters": [_NODE],
            "get": _operation("The node's boot device.", one),
            "put": _operation("Set the boot device.", no_content, body=_ref("BootDevice"))},
        f"{node}/management/boot_device/supported": {
            "parameters": [_NODE],
            "get": _operation("The boot devices the node's driver can set.", one)},
        f"{node}/management/inject_nmi": {
            "parameters": [_NODE],
            "put": _operation("Inject an NMI (API 1.29).", no_content)},
        f"{node}/states/boot_mode": {
            "parameters": [_NODE],
            "put": _operation("Change the boot mode (API 1.76).", accepted,
                              body=_ref("BootMode"))},
        f"{node}/states/secure_boot": {
            "parameters": [_NODE],
            "put": _operation("Turn secure boot on or off (API 1.76).", accepted,
                              body=_ref("SecureBoot"))},
        f"{node}/states/console": {
            "parameters": [_NODE],
            "get": _operation("The node's console.", one),
            "put": _operation("Enable or disable the console.", accepted,
                              body=_ref("Console"))},
        "/v1/nodes/states/console/{node}": {
            "parameters": [_NODE],
            "get": _operation("The node's console, by Ironic's older path.", one)},
        f"{node}/states/raid": {
            "parameters": [_NODE],
            "put": _operation("Set the target RAID configuration (API 1.12).", no_content,
                              body=_OBJECT)},
        f"{node}/vendor_passthru": {
            "parameters": [_NODE, _query("method", _STRING, "The passthru method.")],
            **{method: _operation("Call a vendor passthru method.", {
                "200": _answer("A synchronous method's result.", {}),
                "202": _answer("An asynchronous method was started.")}, params=[])
               for method in ("get", "post", "put", "patch", "delete")}},
        f"{node}/vendor_passthru/methods": {
            "parameters": [_NODE],
            "get": _operation("The node's vendor passthru methods.", one)},
        "/v1/drivers/{driver}/vendor_passthru": {
            "parameters": [_path("driver", "A hardware type."),
                           _query("method", _STRING, "The passthru method.")],
            **{method: _operation("Call a driver vendor passthru method.", {
                "200": _answer("A synchronous method's result.", {}),
                "202": _answer("An asynchronous method was started.")})
               for method in ("get", "post", "put", "patch", "delete")}},
        "/v1/drivers/{driver}/vendor_passthru/methods": {
            "parameters": [_path("driver", "A hardware type.")],
            "get": _operation("The driver's vendor passthru methods.", one)},
        "/v1/drivers/{driver}/raid/logical_disk_properties": {
            "parameters": [_path("driver", "A hardware type.")],
            "get": _operation("What a logical disk of a RAID target may say (API 1.12).",
                              one)},
        f"{node}/ports": {"parameters": [_NODE],
                          "get": _operation("The node's ports.", listed, params=_PAGING)},
        f"{node}/ports/detail": {
            "parameters": [_NODE],
            "get": _operation("The node's ports, every field.", listed, params=_PAGING)},
        "/v1/ports": {
            "get": _operation("List ports.", listed, params=_PAGING + _PORT_FILTERS),
            "post": _operation("Create a port.", {"201": _answer("The port.", _OBJECT)},
                               body=_ref("PortCreate")),
        },
        "/v1/ports/detail": {"get": _operation("List ports, every field.", listed,
                                               params=_PAGING + _PORT_FILTERS)},
        "/v1/ports/{port}": {
            "parameters": [_PORT],
            "get": _operation("Show a port.", one, params=[_query("fields", _STRING)]),
            "patch": _operation("Update a port with a JSON patch.", one,
                                body=_ref("JsonPatch")),
            "delete": _operation("Delete a port.", no_content),
        },
        f"{node}/allocation": {
            "parameters": [_NODE],
            "get": _operation("The node's allocation (API 1.52).", one,
                              params=[_query("fields", _STRING)]),
            "delete": _operation("Delete the node's allocation.", no_content)},
        "/v1/allocations": {
            "get": _operation("List allocations (API 1.52).", listed,
                              params=_PAGING[:-1] + _ALLOCATION_FILTERS),
            "post": _operation("Create an allocation; a conductor finds it a node.",
                               {"201": _answer("The allocation.", _OBJECT)},
                               body=_ref("AllocationCreate")),
        },
        "/v1/allocations/{allocation}": {
            "parameters": [_ALLOCATION],
            "get": _operation("Show an allocation.", one, params=[_query("fields", _STRING)]),
            "patch": _operation("Update name or extra (API 1.57).", one,
                                body=_ref("JsonPatch")),
            "delete": _operation("Delete an allocation, freeing its node.", no_content),
        },
        "/v1/deploy_templates": {
            "get": _operation("List deploy templates (API 1.55).", listed, params=_PAGING),
            "post": _operation("Create a deploy template.",
                               {"201": _answer("The deploy template.", _OBJECT)},
                               body=_ref("DeployTemplateCreate")),
        },
        "/v1/deploy_templates/{template}": {
            "parameters": [_path("template", "A deploy template's UUID or name.")],
            "get": _operation("Show a deploy template.", one,
                              params=[_query("fields", _STRING)]),
            "patch": _operation("Update a deploy template with a JSON patch.", one,
                                body=_ref("JsonPatch")),
            "delete": _operation("Delete a deploy template.", no_content),
        },
        "/v1/drivers": {"get": _operation("List drivers (hardware types).", one, params=[
            _query("type", _STRING), _query("detail", _BOOL),
            _query("fields", _STRING, "API 1.77.")])},
        "/v1/drivers/{driver}": {"parameters": [_path("driver", "A hardware type.")],
                                 "get": _operation("Show a driver.", one, params=[
                                     _query("fields", _STRING, "API 1.77.")])},
        "/v1/drivers/{driver}/properties": {
            "parameters": [_path("driver", "A hardware type.")],
            "get": _operation("The driver_info keys a driver reads.", one)},
        "/v1/conductors": {"get": _operation("List conductors (API 1.49).", listed, params=[
            _query("detail", _BOOL), _query("limit", {"type": "integer"}),
            _query("marker", _STRING)])},
        "/v1/conductors/{hostname}": {
            "parameters": [_path("hostname", "A conductor's host name.")],
            "get": _operation("Show a conductor.", one)},
        "/v1/lookup": {"get": _operation(
            "The agent finds its node (no login; API 1.22).", one, public=True,
            params=[_query("addresses", _STRING, "Comma-separated MAC addresses."),
                    _query("node_uuid", {"type": "string", "format": "uuid"})])},
        "/v1/heartbeat/{node}": {
            "parameters": [_NODE],
            "post": _operation("The agent's heartbeat (no login; agent token).", accepted,
                               body=_ref("Heartbeat"), public=True)},
        "/v1/heartbeat": {
            "post": _operation("The heartbeat naming its node in the body as node_ident "
                               "(no login; agent token).", accepted,
                               body=_ref("Heartbeat"), public=True)},
    }
    by_node = [_query("node", _STRING)]
    group = _path("portgroup", "A portgroup's UUID or name.")
    chassis_id = _path("chassis", "A chassis' UUID.")
    rule = _path("rule", "An inspection rule's UUID.")
    paths.update({
        "/v1/continue_inspection": {"post": _operation(
            "The agent posts its inventory (no login); an unknown machine may enroll.",
            {"202": _answer("The node's UUID.", _OBJECT)}, body=_ref("Inspection"),
            params=[_query("node_uuid", {"type": "string", "format": "uuid"})],
            public=True)},
        f"{node}/inventory": {"parameters": [_NODE], "get": _operation(
            "The inventory and plugin data of the node's last inspection (API 1.81).", one)},
        "/v1/inspection_rules": {
            "get": _operation("List inspection rules (API 1.96).", listed,
                              params=[*_PAGING[:4], _query("fields", _STRING),
                                      _query("detail", _BOOL),
                                      _query("phase", _STRING, "Accepted; does not filter, "
                                                               "as in Ironic.")]),
            "post": _operation("Create an inspection rule.",
                               {"201": _answer("The rule.", _OBJECT)},
                               body=_ref("InspectionRule")),
            "delete": _operation("Delete every operator inspection rule (built-in ones "
                                 "stay).", no_content)},
        "/v1/inspection_rules/{rule}": {
            "parameters": [rule],
            "get": _operation("Show an inspection rule.", one),
            "patch": _operation("Update an inspection rule with a JSON patch.", one,
                                body=_ref("JsonPatch")),
            "delete": _operation("Delete an inspection rule.", no_content)},
        **_collection("/v1/runbooks", "runbook", "runbook", runbooks.FIELDS, detail=False,
                      filters=[_query("detail", _BOOL)]),
        "/v1/runbooks/{runbook}/traits": {
            "parameters": [_path("runbook", "A runbook's UUID or name.")],
            "get": _operation("The runbook's traits (API 1.112).", one),
            "put": _operation("Replace the runbook's traits.", {"204": _answer("Done.")},
                              body={"type": "object", "required": ["traits"],
                                    "properties": {"traits": {"type": "array",
                                                              "items": _STRING}}}),
            "delete": _operation("Remove every trait of the runbook.",
                                 {"204": _answer("Done.")})},
        "/v1/runbooks/{runbook}/traits/{trait}": {
            "parameters": [_path("runbook", "A runbook's UUID or name."),
                           _path("trait", "A trait.")],
            "put": _operation("Add a trait to the runbook.", {"204": _answer("Done.")}),
            "delete": _operation("Remove a trait from the runbook (none: no change).",
                                 {"204": _answer("Done.")})},
        **_collection("/v1/chassis", "chassis", "chassis", chassis.FIELDS, detail=True,
                      filters=[]),
        "/v1/chassis/{chassis}/nodes": _sublist([chassis_id], "The chassis' nodes."),
        "/v1/chassis/{chassis}/nodes/detail": _sublist([chassis_id],
                                                       "The chassis' nodes, every field."),
        **_collection("/v1/portgroups", "portgroup", "portgroup", portgroups.FIELDS,
                      detail=True, filters=[*by_node, _query("address", _STRING),
                                            _query("shard", _STRING, "API 1.106."),
                                            _query("conductor_groups", _STRING)]),
        "/v1/portgroups/{portgroup}/ports": _sublist([group], "The portgroup's ports."),
        "/v1/portgroups/{portgroup}/ports/detail": _sublist(
            [group], "The portgroup's ports, every field."),
        f"{node}/portgroups": _sublist([_NODE], "The node's portgroups (API 1.24)."),
        f"{node}/portgroups/detail": _sublist([_NODE], "The node's portgroups, every field."),
        f"{node}/bios": {"parameters": [_NODE], "get": _operation(
            "The node's BIOS settings (API 1.40).", one,
            params=[_query("detail", _BOOL), _query("fields", _STRING)])},
        f"{node}/bios/{{setting}}": {
            "parameters": [_NODE, _path("setting", "A BIOS setting's name.")],
            "get": _operation("One BIOS setting.", one)},
        f"{node}/firmware": {"parameters": [_NODE], "get": _operation(
            "The node's firmware components (API 1.86).", one,
            params=[_query("fields", _STRING)])},
        f"{node}/vifs": {
            "parameters": [_NODE],
            "get": _operation("The node's VIFs (API 1.28).", one),
            "post": _operation("Attach a VIF.", {"204": _answer("Done.")}, body={
                "type": "object", "required": ["id"],
                "properties": {"id": _STRING,
                               "port_uuid": {"type": "string", "format": "uuid"},
                               "portgroup_uuid": {"type": "string", "format": "uuid"}}})},
        f"{node}/vmedia": {
            "parameters": [_NODE],
            "get": _operation("The node's attached virtual media (API 1.93).",
                              {"200": _answer("media_types, inserted, image of each.",
                                              {"type": "array", "items": _OBJECT})}),
            "post": _operation("Attach virtual media (API 1.89).", {"204": _answer("Done.")},
                               body={"type": "object", "required": ["device_type",
                                                                    "image_url"],
                                     "properties": {
                                         "device_type": {"type": "string",
                                                         "enum": list(vmedia.DEVICES)},
                                         "image_url": _STRING,
                                         "image_download_source": {
                                             "type": "string",
                                             "enum": list(vmedia.DOWNLOAD_SOURCES)}}}),
            "delete": _operation("Detach virtual media (all, or device_types).",
                                 {"204": _answer("Done.")},
                                 params=[_query("device_types", _STRING)]),
            **{method: _operation("Refused: 405 (404 before API 1.89), as Ironic.", {})
               for method in ("put", "patch")}},
        f"{node}/vifs/{{vif}}": {
            "parameters": [_NODE, _path("vif", "A VIF's ID.")],
            "delete": _operation("Detach a VIF.", {"204": _answer("Done.")})},
        "/v1/volume": {"get": _operation("Links to volume connectors and targets.", one)},
        f"{node}/volume": {"parameters": [_NODE], "get": _operation(
            "Links to the node's volume connectors and targets.", one)},
        **_collection("/v1/volume/connectors", "connector", "volume connector",
                      volume.CONNECTOR_FIELDS, detail=False, filters=by_node),
        **_collection("/v1/volume/targets", "target", "volume target",
                      volume.TARGET_FIELDS, detail=False, filters=by_node),
        f"{node}/volume/connectors": _sublist([_NODE], "The node's volume connectors."),
        f"{node}/volume/targets": _sublist([_NODE], "The node's volume targets."),
    })
    gone = {"404": _answer("ingot does not implement this resource.", _ref("Error"))}
    methods = ("get", "post", "put", "patch", "delete")
    for name in UNSUPPORTED:
        paths[f"/v1/{name}"] = {method: _operation(f"Not implemented: {name}.", gone)
                                for method in methods}
        paths[f"/v1/{name}/{{rest}}"] = {
            "parameters": [_path("rest", "Anything below the resource.")],
            **{method: _operation(f"Not implemented: {name}.", gone) for method in methods}}
    return paths


def document() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "ingot Bare Metal API", "version": str(microversion.INGOT.high),
                 "description": "OpenStack's Bare Metal API v1 as ingot serves it."},
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": {"Version": {
                "name": "X-OpenStack-Ironic-API-Version", "in": "header", "required": False,
                "description": f"The microversion: 1.1 to {microversion.INGOT.high}, or "
                               f"latest.",
                "schema": {"type": "string", "enum": [
                    *(f"1.{minor}" for minor in range(1, microversion.INGOT.high.minor + 1)),
                    "latest"]}}},
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "keystone": {"type": "apiKey", "in": "header", "name": "X-Auth-Token"}},
        },
        "security": [{"basic": []}, {"keystone": []}, {}],
    }


_DOCUMENT: dict[str, Any] | None = None


async def openapi(request: Request) -> Response:
    global _DOCUMENT
    if _DOCUMENT is None:
        _DOCUMENT = document()
    return json_response(_DOCUMENT)
