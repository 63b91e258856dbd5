"""Inspection settings: Ironic's [inspector] port choices, [auto_discovery] and the
built-in rules, read once from configuration."""

from __future__ import annotations

import dataclasses
import pathlib

from oslo_config import cfg

from ingot.inspection.rules import InvalidRule, Rule, check_rule

ADD_PORTS = ("all", "active", "pxe", "disabled")
KEEP_PORTS = ("all", "present", "added")


class BadBuiltInRules(ValueError):
    """The built-in rules file cannot be used; the message names it."""


@dataclasses.dataclass(frozen=True, slots=True)
class InspectionSettings:
    add_ports: str = "pxe"
    keep_ports: str = "all"
    update_pxe_enabled: bool = True
    # Leave 1 GiB of the root disk for partitioning, as Ironic does for local_gb.
    disk_partitioning_spacing: bool = True
    discovery_enabled: bool = False
    discovery_driver: str | None = None
    built_in_rules: tuple[Rule, ...] = ()

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> InspectionSettings:
        return cls(
            add_ports=conf.inspector.add_ports,
            keep_ports=conf.inspector.keep_ports,
            update_pxe_enabled=conf.inspector.update_pxe_enabled,
            disk_partitioning_spacing=conf.inspector.disk_partitioning_spacing,
            discovery_enabled=conf.auto_discovery.enabled,
            discovery_driver=conf.auto_discovery.driver,
            built_in_rules=load_built_in_rules(conf.inspection_rules.built_in_rules),
        )


def load_built_in_rules(path: str | None) -> tuple[Rule, ...]:
    """The rules of a YAML or JSON file: a list of rules as the API takes them, checked
    at start so a bad one stops the service instead of failing inspections."""
    if not path:
        return ()
    import yaml  # type: ignore[import-untyped]  # noqa: PLC0415 - only for a rules file

    try:
        text = pathlib.Path(path).read_text()
    except OSError as exc:
        raise BadBuiltInRules(f"[inspection_rules] built_in_rules: cannot read {path}: "
                              f"{exc.strerror}") from None
    try:
        loaded = yaml.safe_load(text)  # YAML, of which JSON is a subset
    except yaml.YAMLError as exc:
        raise BadBuiltInRules(f"[inspection_rules] built_in_rules: {path} does not "
                              f"parse: {exc}") from None
    if not isinstance(loaded, list) or not all(isinstance(r, dict) for r in loaded):
        raise BadBuiltInRules(f"[inspection_rules] built_in_rules: {path} must hold a "
                              f"list of rules.")
    try:
        return tuple(check_rule(rule, built_in=True) for rule in loaded)
    except InvalidRule as exc:
        raise BadBuiltInRules(f"[inspection_rules] built_in_rules: {path}: {exc}") from None
