"""Entry point for oslo-config-generator: every option ingot registers."""

from __future__ import annotations

from oslo_config import cfg

from ingot import conf
from ingot.conf import keystone


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    result: list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]] = []
    for module in conf.modules():
        result.extend(module.list_opts())
    result.extend(keystone.list_opts())
    return result
