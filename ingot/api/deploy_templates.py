"""/v1/deploy_templates (API 1.55): stored and validated as Ironic's; a deployment
whose instance_info traits name templates runs their steps (conductor side)."""

from __future__ import annotations

from ingot.api import crud
from ingot.api.deploy_template_fields import DEPLOY_TEMPLATE
from ingot.api.node_fields import NODE
from ingot.db import deploy_templates

MIN_MINOR = 55

KIND = crud.Kind(DEPLOY_TEMPLATE, deploy_templates.STORE, path="deploy_templates",
                 key="deploy_templates", title="Deploy template", since=MIN_MINOR,
                 gate_name="deploy templates", by_name=True,
                 ident_name="template_ident",
                 detail_since=MIN_MINOR,
                 # Ironic checks this list's sort_key against the node's versioned fields.
                 sort_since=NODE.versioned(),
                 unique=((("uuid",), "A deploy template with UUID {uuid} already exists."),
                         (("name",), "A deploy template with name {name} already exists.")))

list_templates = crud.list_handler(KIND)
show_template = crud.show_handler(KIND, "template")
create_template = crud.create_handler(KIND)
patch_template = crud.patch_handler(KIND, "template")
delete_template = crud.delete_handler(KIND, "template")
