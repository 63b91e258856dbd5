"""Deploy templates' store, and the templates a deployment's traits name."""

from __future__ import annotations

from collections.abc import Collection

import sqlalchemy as sa

from ingot.db import records
from ingot.db.models import DeployTemplate, deploy_templates

STORE = records.Store(deploy_templates, DeployTemplate)


def with_names(conn: sa.Connection, names: Collection[str]) -> list[DeployTemplate]:
    if not names:
        return []
    return STORE.list(conn, [deploy_templates.c.name.in_(sorted(names))])
