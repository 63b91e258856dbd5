"""Entry point for oslo-config-generator: every option ingot registers."""

from oslo_config import cfg

from ingot.conf import api, conductor, database, default, keystone


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [
        (None, default.opts),
        (api.group, api.opts),
        (conductor.group, conductor.opts),
        (database.group, database.opts),
        (keystone.GROUP, keystone.list_opts()),
    ]
