"""[agent] options: how conductors drive the deploy agent."""

from oslo_config import cfg

group = cfg.OptGroup("agent", title="Deploy agent")

opts = [
    cfg.StrOpt("image_download_source", default="direct",
               choices=[("direct", "the agent fetches the image where it lives: an "
                                   "http(s) URL as given, an image in Swift by temp URL"),
                        ("swift", "like direct, for images in Swift"),
                        ("http", "the conductor caches the image and serves it from its "
                                 "HTTP root")],
               help="How the agent gets images; a node's instance_info or driver_info "
                    "image_download_source overrides it. file:// images and Glance images "
                    "outside Swift are always served by the conductor. (Ironic's default "
                    "is http, which for http(s) images ingot keeps as an opt-in: with it, "
                    "a node's image proxies only see the conductor.)"),
    cfg.BoolOpt("stream_raw_images", default=True,
                help="Let the agent write raw images straight to the disk while "
                     "downloading, instead of downloading first."),
    cfg.BoolOpt("allow_md5_checksum", default=False,
                help="Accept MD5 image checksums (Ironic's default is True; MD5 is "
                     "not collision resistant, so ingot refuses it unless asked)."),
    cfg.FloatOpt("command_timeout", default=60.0,
                 help="Seconds to wait for the agent's command API to answer."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, opts)]
