"""[glance] options for images Glance stores in Swift, and their temporary URLs.

Names, defaults and meanings are Ironic's, plus the option of the agent image proxy spec
(``swift_temp_url_cachetime``) and a reuse margin Ironic lacks: a cached URL is only
handed out while it stays valid for the expected download start delay plus that margin.
"""

from oslo_config import cfg

group = cfg.OptGroup("glance", title="Glance images in Swift")

opts = [
    cfg.IntOpt("swift_temp_url_duration", default=1200, min=1,
               help="Seconds a Swift temporary URL for an image is valid, when "
                    "swift_temp_url_cachetime is 0. Must be at least "
                    "swift_temp_url_expected_download_start_delay."),
    cfg.BoolOpt("swift_temp_url_cache_enabled", default=False,
                help="Hand out the same temporary URL for an image while it is safely "
                     "valid, so that a caching proxy between the nodes and Swift serves "
                     "the image once. The cache is in the database: every conductor "
                     "sharing it hands out the same URL."),
    cfg.IntOpt("swift_temp_url_cachetime", default=0, min=0,
               help="If greater than 0, enables the temporary URL cache (as "
                    "swift_temp_url_cache_enabled does) and is the lifetime in seconds "
                    "of the URLs it creates, instead of swift_temp_url_duration."),
    cfg.IntOpt("swift_temp_url_expected_download_start_delay", default=0, min=0,
               help="Seconds that may pass between creating a temporary URL and the "
                    "node starting its download. A cached URL is only reused while it "
                    "stays valid for this long plus swift_temp_url_reuse_margin."),
    cfg.IntOpt("swift_temp_url_reuse_margin", min=0,
               help="Seconds a cached temporary URL must stay valid beyond "
                    "swift_temp_url_expected_download_start_delay to be reused (covers "
                    "the agent's retries and clock skew). Default: 10% of the URL "
                    "lifetime, at least 60."),
    cfg.URIOpt("swift_endpoint_url", schemes=["http", "https"],
               help="Swift endpoint, e.g. https://swift.example.com. A trailing "
                    "/v1/<swift_account_prefix>... is removed (and used as the account "
                    "when swift_account is not set). Default: the object-store endpoint "
                    "of the [swift] credentials."),
    cfg.StrOpt("swift_account",
               help="Swift account Glance stores images in, e.g. AUTH_<project id>. "
                    "Default: the account of the [swift] credentials."),
    cfg.StrOpt("swift_account_prefix", default="AUTH",
               help="Prefix of Swift account names (reseller prefix); '_' is appended "
                    "if missing."),
    cfg.StrOpt("swift_container", default="glance",
               help="Swift container Glance stores images in (its swift_store_container)."),
    cfg.StrOpt("swift_api_version", default="v1",
               help="Swift API version in object paths."),
    cfg.IntOpt("swift_store_multiple_containers_seed", default=0, min=0, max=32,
               help="Glance's swift_store_multiple_containers_seed: if greater than 0, "
                    "images are spread over containers named <swift_container>_<first "
                    "characters of the image id>."),
    cfg.StrOpt("swift_temp_url_key", secret=True,
               help="Secret key of Swift temporary URLs. Default: the account's "
                    "Temp-URL-Key-2 or Temp-URL-Key metadata, read with the [swift] "
                    "credentials."),
]


def register(conf: cfg.ConfigOpts) -> None:
    # A group object of its own per ConfigOpts: oslo.config copies groups shallowly, so a
    # shared one would carry auth plugin options loaded into [glance] (for Glance access,
    # see ingot.conf.image_sources) from one configuration into every other.
    if group.name not in conf:
        conf.register_group(cfg.OptGroup(group.name, title=group.title))
    conf.register_opts(opts, group=group.name)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts)]
