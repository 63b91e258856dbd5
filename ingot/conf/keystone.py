"""[keystone_authtoken]: keystoneauth1's auth and session options, under the group name
keystonemiddleware uses, so an Ironic config's section works unchanged."""

from oslo_config import cfg

GROUP = "keystone_authtoken"


def register(conf: cfg.ConfigOpts) -> None:
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only in keystone mode

    if GROUP in conf and "auth_type" in conf[GROUP]:
        return
    loading.register_auth_conf_options(conf, GROUP)
    loading.register_session_conf_options(conf, GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    from keystoneauth1 import loading  # noqa: PLC0415

    return [(GROUP, loading.get_auth_common_conf_options()
             + loading.get_auth_plugin_conf_options("password")
             + loading.get_session_conf_options())]
