"""[conductor] options."""

from oslo_config import cfg

group = cfg.OptGroup("conductor", title="Conductor")

opts = [
    cfg.StrOpt("conductor_group", default="",
               help="Conductor group this conductor manages."),
    cfg.ListOpt("conductor_groups", default=[],
                help="Further conductor groups this conductor manages, so one ingot site "
                     "can serve several groups (Ironic needs a conductor per group)."),
    cfg.IntOpt("workers_pool_size", default=100, min=1,
               help="Most node operations one conductor runs at once."),
    cfg.FloatOpt("heartbeat_interval", default=10.0,
                 help="Seconds between a conductor's liveness updates."),
    cfg.IntOpt("heartbeat_timeout", default=60,
               help="Seconds after which a silent conductor is considered dead and its "
                    "node reservations are released."),
    cfg.FloatOpt("poll_interval", default=1.0,
                 help="Seconds between looks for new work in the database, for work "
                      "requested by another process (an in-process API wakes the "
                      "conductor at once; on PostgreSQL conductors LISTEN for work and "
                      "look only every 30 s or this, whichever is longer)."),
    cfg.IntOpt("check_provision_state_interval", default=30,
               help="Seconds between checks for deploys that time out."),
    cfg.IntOpt("deploy_callback_timeout", default=1800,
               help="Seconds to wait for the agent in wait call-back; 0 waits forever."),
    cfg.StrOpt("api_url",
               help="URL of the Bare Metal API that agents call back (lookup, "
                    "heartbeats). Defaults to http://[api]host_ip:[api]port, with "
                    "127.0.0.1 for a wildcard host_ip."),
    cfg.IntOpt("power_state_change_timeout", default=60, min=2,
               help="Seconds to wait for a BMC to report the power state it was asked "
                    "for."),
    cfg.IntOpt("sync_power_state_interval", default=60,
               help="Seconds between reads of the nodes' power states from their BMCs; "
                    "0 or less disables it."),
    cfg.IntOpt("power_state_sync_max_retries", default=3, min=1,
               help="Failed power state reads of a node in a row before it is put in "
                    "maintenance."),
    cfg.BoolOpt("automated_clean", default=True,
                help="Clean nodes on provide and undeploy."),
    cfg.IntOpt("node_history_max_entries", default=300, min=0,
               help="History events kept per node: recording one more removes the "
                    "oldest beyond this. 0 keeps them all."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts)]
