"""ingot's configuration: oslo.config options named as in Ironic where Ironic has them.

Each module of this package owns one option group and has ``register(conf)`` and
``list_opts()``; add new ones to MODULES.
"""

from __future__ import annotations

import importlib
import re
from types import ModuleType

from oslo_config import cfg

CONF = cfg.CONF

MODULES = (
    "ingot.conf.default",
    "ingot.conf.api",
    "ingot.conf.database",
    "ingot.conf.conductor",
    "ingot.conf.agent",
    "ingot.conf.deploy",
    "ingot.conf.local_vm",
    "ingot.conf.bmc",
    "ingot.conf.glance",
    "ingot.conf.swift",
    "ingot.conf.configdrive_swift",
    "ingot.conf.pxe",
    "ingot.conf.image_sources", "ingot.conf.image_cache",
    "ingot.conf.inspection",
)


def modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in MODULES]


for _module in modules():
    _module.register(CONF)


def load(args: list[str], default_config_files: list[str] | None = None) -> cfg.ConfigOpts:
    """Parse command line arguments and INI files into the global CONF.

    Raises BadOption (a cfg.Error) naming the option and file of a value that does not
    parse, and oslo.config's errors for missing files.
    """
    CONF(args, project="ingot", default_config_files=default_config_files or [])
    check(CONF)
    return CONF


def check(conf: cfg.ConfigOpts) -> None:
    """Read every registered option once: oslo.config parses values when they are first
    read, so a bad one fails here, at start, not in the middle of some later operation.

    The registered ones, not list_opts(): those add keystoneauth1's options for the
    sample, and importing keystoneauth1 (with requests) costs every process 6 MB; its
    options are registered, and read, when Swift, Glance or Keystone is used."""
    for name in conf:
        try:
            value = conf[name]  # a [DEFAULT] option's value, or a group's options
        except cfg.ConfigFileValueError as exc:
            raise BadOption(_bad_option(exc, "DEFAULT")) from None
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for dest in value:
                try:
                    getattr(value, dest)
                except cfg.ConfigFileValueError as exc:
                    raise BadOption(_bad_option(exc, name)) from None


class BadOption(cfg.Error):
    """An option's value cannot be parsed; the message names the option and file."""


_BAD_VALUE = re.compile(r"Value for option (?P<name>\S+) from LocationInfo\(.*?"
                        r"detail='(?P<file>[^']*)'\) is not valid: (?P<reason>.*)", re.S)


def _bad_option(exc: cfg.ConfigFileValueError, group: str) -> str:
    # oslo's message embeds a LocationInfo repr: keep the option, file and reason.
    match = _BAD_VALUE.match(str(exc))
    if match is None:
        return str(exc)
    where = f" in {match['file']}" if match["file"] else ""
    return f"[{group}] {match['name']}{where} is not valid: {match['reason']}"
