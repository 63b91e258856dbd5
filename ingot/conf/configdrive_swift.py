"""Config drives kept in Swift: options in the groups where Ironic has them.

An exception to one group per module: Ironic splits these three options between [deploy]
and [conductor], and operators' config files use those names. Other modules may add
options to the same groups.
"""

from oslo_config import cfg

deploy = cfg.OptGroup("deploy", title="Deploy")
conductor = cfg.OptGroup("conductor", title="Conductor")

deploy_opts: list[cfg.Opt] = [
    cfg.BoolOpt("configdrive_use_object_store", default=False,
                deprecated_opts=[cfg.DeprecatedOpt("configdrive_use_swift",
                                                   group="conductor")],
                help="Keep config drives in Swift (object configdrive-<node uuid> with "
                     "X-Delete-After) and give the agent a temporary URL, instead of "
                     "keeping them in the database."),
]

conductor_opts: list[cfg.Opt] = [
    cfg.StrOpt("configdrive_swift_container", default="ironic_configdrive_container",
               help="Swift container holding config drives."),
    cfg.IntOpt("configdrive_swift_temp_url_duration", min=60,
               help="Seconds a config drive's temporary URL is valid, and after which "
                    "Swift deletes the object. Default: [conductor] "
                    "deploy_callback_timeout + 120, or 1800 if that is 0."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(deploy)
    conf.register_opts(deploy_opts, group=deploy)
    conf.register_group(conductor)
    conf.register_opts(conductor_opts, group=conductor)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(deploy, deploy_opts), (conductor, conductor_opts)]
