"""[redfish] and [ipmi] options: how ingot talks to servers' BMCs."""

from oslo_config import cfg

redfish = cfg.OptGroup("redfish", title="Redfish BMCs")
ipmi = cfg.OptGroup("ipmi", title="IPMI BMCs")

redfish_opts: list[cfg.Opt] = [
    cfg.StrOpt("auth_type", default="auto", choices=["basic", "session", "auto"],
               help="Authentication of Redfish requests when a node's driver_info has no "
                    "redfish_auth_type: auto tries a session, then basic."),
    cfg.IntOpt("connection_attempts", default=5, min=1,
               help="Attempts to reach a BMC (and of a request it answers with a server "
                    "error) before the operation fails."),
    cfg.FloatOpt("connection_retry_interval", default=4.0, min=0,
                 help="Seconds between those attempts."),
    cfg.FloatOpt("connect_timeout", default=10.0, min=0.1,
                 help="Seconds to wait for a BMC to accept a connection."),
    cfg.FloatOpt("read_timeout", default=60.0, min=0.1,
                 help="Seconds to wait for a BMC's answer."),
]

ipmi_opts: list[cfg.Opt] = [
    cfg.FloatOpt("command_retry_timeout", default=60.0, min=1,
                 help="Seconds an IPMI command is retried before it fails."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(redfish)
    conf.register_opts(redfish_opts, group=redfish)
    conf.register_group(ipmi)
    conf.register_opts(ipmi_opts, group=ipmi)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(redfish, redfish_opts), (ipmi, ipmi_opts)]
