"""Where images may come from: ``[conductor] file_url_allowed_paths`` (Ironic's name) for
``file://`` sources, and how the conductor reaches Glance.

Glance access uses keystoneauth1's auth, session and adapter options in [glance], as in
Ironic (``auth_type = password`` with Keystone, or ``auth_type = none`` with
``endpoint_override = http://glance:9292``). They are registered only when Glance is used
(``register_glance_auth``): keystoneauth1 is heavy and every ingot process imports
ingot.conf. The other [glance] options (Swift temp URLs) are in ingot.conf.glance.
"""

from oslo_config import cfg

CONDUCTOR = "conductor"
GLANCE = "glance"

conductor_opts: list[cfg.Opt] = [
    cfg.ListOpt("file_url_allowed_paths",
                default=["/var/lib/ingot/images", "$state_path/images"],
                help="Directories file:// image sources must be in. A source is checked "
                     "after resolving every symbolic link (of the source and of these "
                     "entries), so a link cannot lead out of them, and it is opened "
                     "without following links. System directories (/dev, /sys, /proc, "
                     "/boot, /etc, /run, /var/log, ...) are refused even when listed. Entries "
                     "must be absolute paths without '..'. An empty list disables "
                     "file:// sources."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(conductor_opts, group=CONDUCTOR)


def register_glance_auth(conf: cfg.ConfigOpts) -> None:
    """Register keystoneauth1's auth, session and adapter options in [glance]; idempotent."""
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only when Glance is used

    if GLANCE in conf and "auth_type" in conf[GLANCE]:
        return
    loading.register_auth_conf_options(conf, GLANCE)
    loading.register_session_conf_options(conf, GLANCE)
    loading.register_adapter_conf_options(conf, GLANCE)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only for the sample

    return [(CONDUCTOR, conductor_opts),
            (GLANCE, loading.get_auth_common_conf_options()
             + loading.get_session_conf_options() + loading.get_adapter_conf_options())]
