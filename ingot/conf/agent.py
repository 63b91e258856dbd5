"""[agent] options: how conductors drive the deploy agent."""

from oslo_config import cfg

group = cfg.OptGroup("agent", title="Deploy agent")

opts = [
    cfg.StrOpt("image_download_source", default="direct",
               choices=[("direct", "the agent fetches the image where it lives: an "
                                   "http(s) URL as given, an image in Swift by temp URL"),
                        ("swift", "like direct, for images in Swift"),
                        ("http", "the conductor caches the image and serves it from its "
                                 "HTTP root"),
                        ("local", "Ironic's name for http: the conductor caches the image "
                                  "and serves it from its own HTTP server")],
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
    cfg.StrOpt("verify_ca", default="True",
               help="How to verify the TLS certificate of an agent that serves https "
                    "without sending its CA in heartbeats (agents that do, such as "
                    "ironic-python-agent with auto TLS and ingot's agent, are verified "
                    "against that CA): True for the system CAs, False to not verify, or "
                    "the path of a CA bundle. A node's driver_info agent_verify_ca "
                    "overrides it."),
    cfg.IntOpt("post_deploy_get_power_state_retries", default=6, min=0,
               help="After asking the agent to power the node off at the end of a "
                    "deploy, how many more times to check the power state before "
                    "powering off out of band."),
    cfg.IntOpt("post_deploy_get_power_state_retry_interval", default=5, min=1,
               help="Seconds between those power state checks (ingot checks more "
                    "often within the same total time)."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, opts)]
