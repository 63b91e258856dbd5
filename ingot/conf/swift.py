"""[swift]: how ingot talks to Swift (as Ironic's [swift] section), and temp URL signing.

Credentials are keystoneauth1 auth, session and adapter options, as in Ironic, e.g.
``auth_type = password`` with Keystone, ``auth_type = v1password`` (python-swiftclient's
plugin for Swift's own tempauth: ``auth_url = http://swift:8080/auth/v1.0``,
``username = account:user``, ``password = ...``) or ``auth_type = none`` with
``endpoint_override = http://swift:8080/v1/AUTH_x``. ``endpoint_override`` also replaces
the storage URL that any other auth type finds.

keystoneauth1 is imported only when Swift is used (``register_auth``), as for
[keystone_authtoken]: every ingot process imports ingot.conf.
"""

from oslo_config import cfg

GROUP = "swift"

group = cfg.OptGroup(GROUP, title="Swift access")

opts = [
    cfg.StrOpt("temp_url_digest", default="sha256",
               choices=[("sha256", "HMAC-SHA256 (default)"),
                        ("sha512", "HMAC-SHA512"),
                        ("sha1", "HMAC-SHA1, deprecated by Swift; only for old clusters")],
               help="Digest of every Swift temporary URL ingot signs (images and config "
                    "drives). Must be in the cluster's tempurl allowed_digests."),
    cfg.IntOpt("swift_max_retries", default=2, min=0,
               help="Retries of a failed Swift request (connection errors and 5xx)."),
]


def register(conf: cfg.ConfigOpts) -> None:
    # A group object of its own per ConfigOpts: oslo.config copies groups shallowly, so a
    # shared one would carry the auth plugin options loaded into one configuration
    # (required ones included) into every other.
    if GROUP not in conf:
        conf.register_group(cfg.OptGroup(GROUP, title=group.title))
    conf.register_opts(opts, group=GROUP)


def register_auth(conf: cfg.ConfigOpts) -> None:
    """Register keystoneauth1's auth, session and adapter options in [swift]; idempotent."""
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only when Swift is used

    register(conf)
    if "auth_type" in conf[GROUP]:
        return
    loading.register_auth_conf_options(conf, GROUP)
    loading.register_session_conf_options(conf, GROUP)
    loading.register_adapter_conf_options(conf, GROUP)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    from keystoneauth1 import loading  # noqa: PLC0415 - heavy, only for the sample

    return [(group, opts + loading.get_auth_common_conf_options()
             + loading.get_session_conf_options()
             + loading.get_adapter_conf_options())]
