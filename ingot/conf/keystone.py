"""[keystone_authtoken]: keystoneauth1's auth and session options, under the group name
keystonemiddleware uses, so an Ironic config's section works unchanged."""

from oslo_config import cfg

GROUP = "keystone_authtoken"


# keystonemiddleware's own options that ingot honours, with its names and defaults.
middleware_opts = [
    cfg.StrOpt("www_authenticate_uri",
               help="Keystone's public URL, sent to clients in the WWW-Authenticate "
                    "header of a 401."),
    cfg.IntOpt("token_cache_time", default=300, min=0,
               help="Seconds a validated token is trusted without asking Keystone again "
                    "(bounded by the token's expiry); 0 asks every time. A revoked token "
                    "keeps working for up to this long."),
]


def register(conf: cfg.ConfigOpts) -> None:
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only in keystone mode

    if GROUP in conf and "auth_type" in conf[GROUP]:
        return
    loading.register_auth_conf_options(conf, GROUP)
    loading.register_session_conf_options(conf, GROUP)
    conf.register_opts(middleware_opts, group=GROUP)


def list_opts() -> list[tuple[str, list[cfg.Opt]]]:
    from keystoneauth1 import loading  # noqa: PLC0415

    return [(GROUP, middleware_opts + loading.get_auth_common_conf_options()
             + loading.get_auth_plugin_conf_options("password")
             + loading.get_session_conf_options())]
