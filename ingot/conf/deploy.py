"""[deploy] options of the agent's deploy and cleaning: fast track and the priorities
of the agent's erase steps. Other modules add options to the same group."""

from oslo_config import cfg

group = cfg.OptGroup("deploy", title="Deploy")

opts = [
    cfg.BoolOpt("fast_track", default=False,
                help="Reuse an agent that is still running (it heartbeated within "
                     "fast_track_timeout and the node is powered on), for instance after "
                     "cleaning, for the next deploy instead of rebooting the node into a "
                     "new one; cleaning then leaves the node powered on."),
    cfg.IntOpt("fast_track_timeout", default=300, min=0, max=300,
               help="Seconds since its last heartbeat within which an agent counts as "
                    "running for fast track."),
    cfg.IntOpt("erase_devices_priority",
               help="Priority of the agent's erase_devices clean step (a full erase of "
                    "every disk). Unset: the agent's own priority (10 in "
                    "ironic-python-agent; ingot's agent does not offer the step); 0 "
                    "leaves it out of automated cleaning."),
    cfg.IntOpt("erase_devices_metadata_priority",
               help="Priority of the agent's erase_devices_metadata clean step. Unset: "
                    "the agent's own priority (99); 0 leaves it out of automated "
                    "cleaning."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, opts)]
