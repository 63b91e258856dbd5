"""[api] options."""

from oslo_config import cfg

group = cfg.OptGroup("api", title="Bare Metal API service")

opts = [
    cfg.HostAddressOpt("host_ip", default="127.0.0.1",
                       help="Address the API listens on."),
    cfg.PortOpt("port", default=6385, help="Port the API listens on."),
    cfg.IntOpt("max_limit", default=1000, min=1,
               help="Most items a list request returns at once."),
    cfg.StrOpt("public_endpoint",
               help="Public URL of the API, used in links. Defaults to the request's "
                    "host URL."),
    cfg.BoolOpt("restrict_lookup", default=True,
                help="Only answer agent lookups for nodes in states where an agent is "
                     "expected."),
    cfg.IntOpt("ramdisk_heartbeat_timeout", default=300,
               help="Seconds the agent may go without heartbeating."),
    cfg.IntOpt("max_json_body_size", default=1048576, min=1024,
               help="Largest request body in bytes; larger ones get 413."),
    cfg.IntOpt("max_json_body_size_provision", default=67108864, min=1024,
               help="Largest body of a provision state request (it may carry a config "
                    "drive)."),
    cfg.ListOpt("keystone_allowed_roles", default=["admin", "service"],
                help="With auth_strategy keystone: a token needs one of these roles."),
    cfg.IntOpt("max_json_body_depth", default=25, min=2,
               help="Deepest nesting accepted in a JSON body."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts)]
