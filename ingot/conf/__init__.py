"""ingot's configuration: oslo.config options named as in Ironic where Ironic has them.

Each module of this package owns one option group and has ``register(conf)`` and
``list_opts()``; add new ones to MODULES.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from oslo_config import cfg

CONF = cfg.CONF

MODULES = (
    "ingot.conf.default",
    "ingot.conf.api",
    "ingot.conf.database",
    "ingot.conf.conductor",
    "ingot.conf.agent",
    "ingot.conf.local_vm",
    "ingot.conf.glance",
    "ingot.conf.swift",
    "ingot.conf.configdrive_swift",
    "ingot.conf.pxe",
    "ingot.conf.image_sources", "ingot.conf.image_cache",
)


def modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]


for _module in modules():
    _module.register(CONF)


def load(args: list[str], default_config_files: list[str] | None = None) -> cfg.ConfigOpts:
    """Parse command line arguments and INI files into the global CONF."""
    CONF(args, project="ingot", default_config_files=default_config_files or [])
    return CONF
