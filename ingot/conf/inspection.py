"""Inspection options, in Ironic's groups: [inspector] (which ports an inventory
gives a node), [auto_discovery] (enrolling unknown machines) and [inspection_rules]
(the built-in rules)."""

from oslo_config import cfg

inspector = cfg.OptGroup("inspector", title="In-band inspection")
auto_discovery = cfg.OptGroup("auto_discovery", title="Enrolling unknown machines")
inspection_rules = cfg.OptGroup("inspection_rules", title="Inspection rules")

inspector_opts: list[cfg.Opt] = [
    cfg.StrOpt("add_ports", default="pxe", choices=["all", "active", "pxe", "disabled"],
               help="Which interfaces of an inventory get ports: all, active (with an IP "
                    "address), pxe (the one the machine booted from; active when the "
                    "agent does not say) or disabled."),
    cfg.StrOpt("keep_ports", default="all", choices=["all", "present", "added"],
               help="Which existing ports an inspection keeps: all, present (whose MAC is "
                    "in the inventory) or added (those add_ports chose)."),
    cfg.BoolOpt("update_pxe_enabled", default=True,
                help="Set pxe_enabled on the port of the interface the machine booted "
                     "from and clear it on the others (when the agent names it)."),
    cfg.BoolOpt("disk_partitioning_spacing", default=True,
                help="Leave 1 GiB of the root disk out of local_gb for partitioning."),
]
auto_discovery_opts: list[cfg.Opt] = [
    cfg.BoolOpt("enabled", default=False,
                help="Enroll a machine whose inventory matches no node (as a new node in "
                     "enroll, with its ports and properties; the inspection rules run "
                     "on it)."),
    cfg.StrOpt("driver",
               help="Hardware type of discovered nodes (must be enabled); rules may "
                    "change it. Discovery needs it."),
]
inspection_rules_opts: list[cfg.Opt] = [
    cfg.StrOpt("built_in_rules",
               help="YAML or JSON file with a list of inspection rules (as the API takes "
                    "them) that run on every inventory besides the operator's rules; "
                    "checked at start."),
]

_ALL: list[tuple[cfg.OptGroup, list[cfg.Opt]]] = [
    (inspector, inspector_opts), (auto_discovery, auto_discovery_opts),
        (inspection_rules, inspection_rules_opts)]


def register(conf: cfg.ConfigOpts) -> None:
    for group, opts in _ALL:
        conf.register_group(group)
        conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return list(_ALL)
