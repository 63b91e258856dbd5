"""[pxe] options of iPXE network boot, and the [deploy] options of the HTTP root it is
served from. Names and defaults are Ironic's where Ironic has the option.

An exception to one group per module (like configdrive_swift): Ironic keeps http_root
and http_url in [deploy], and operators' config files use those names.
"""

from oslo_config import cfg

group = cfg.OptGroup("pxe", title="PXE and iPXE boot")
deploy = cfg.OptGroup("deploy", title="Deploy")

opts: list[cfg.Opt] = [
    cfg.BoolOpt("ipxe_use_swift", default=False, mutable=True,
                deprecated_opts=[cfg.DeprecatedOpt("use_swift", group="ipxe")],
                help="Give iPXE Swift temporary URLs for deploy kernels and ramdisks that "
                     "are in Swift (or in Glance backed by Swift) instead of caching them "
                     "in the HTTP root. Files that are not in Swift are still cached and "
                     "served locally."),
    cfg.StrOpt("kernel_append_params", default="nofb vga=normal",
               help="Kernel parameters of the deploy ramdisk, unless a node sets "
                    "kernel_append_params in instance_info or driver_info (where "
                    "%default% stands for this value). Words with control characters, "
                    "quotes, backslashes or iPXE operators (${, &&, ||) are refused."),
    cfg.IntOpt("ipxe_timeout", default=0, min=0,
               help="Seconds iPXE may take to download the kernel or the ramdisk; 0 for "
                    "no limit."),
    cfg.IntOpt("ipxe_download_attempts", default=10, min=1, max=100,
               help="Tries iPXE makes to load the deploy kernel and ramdisk before it "
                    "gives up (waiting 1, 2, 3... seconds in between). ingot only."),
    cfg.StrOpt("pxe_config_subdir", default="pxelinux.cfg",
               help="Directory of the HTTP root with one link per PXE port MAC to its "
                    "node's config."),
    cfg.StrOpt("ipxe_boot_script",
               help="Jinja2 template of boot.ipxe, the chain script at the HTTP root. "
                    "Default: ingot's own (ingot/boot/templates/boot.ipxe.j2). Ironic's "
                    "templates use other variables and do not work here."),
    cfg.StrOpt("ipxe_config_template",
               help="Jinja2 template of a node's deploy config. Default: ingot's own "
                    "(ingot/boot/templates/deploy.ipxe.j2)."),
    cfg.StrOpt("ipxe_local_boot_template",
               help="Jinja2 template of a node's config once deployed (boot from the "
                    "local disk). Default: ingot's own (local_boot.ipxe.j2). ingot only."),
    cfg.StrOpt("ipxe_fallback_script",
               help="Script boot.ipxe chains when no config exists for the machine (a "
                    "path relative to the HTTP root, or an http URL). Default: leave "
                    "network boot so the firmware tries its next boot device."),
    cfg.IntOpt("file_permission", default=0o644, sample_default="0o644",
               help="Permissions of files written to the HTTP root (copies and configs; "
                    "hard links keep the image cache's)."),
    cfg.IntOpt("dir_permission", default=0o755, sample_default="0o755",
               help="Permissions of directories created in the HTTP root."),
    cfg.IntOpt("boot_retry_timeout", min=60,
               help="Seconds after which a node that has not called back is power cycled "
                    "to retry network boot, its config re-rendered first (fresh temporary "
                    "URLs). Must be less than [conductor] deploy_callback_timeout. "
                    "Disabled by default."),
]

deploy_opts: list[cfg.Opt] = [
    cfg.StrOpt("http_root", default="$state_path/httpboot",
               help="Directory served over HTTP to booting machines: boot.ipxe, the "
                    "per-node configs and boot files."),
    cfg.StrOpt("http_url",
               help="URL machines reach http_root at, e.g. http://192.0.2.1:8080. Must be "
                    "http: the iPXE in common firmware cannot do HTTPS. Default: derived "
                    "from the address ingot serves the HTTP root on."),
    cfg.StrOpt("external_http_url",
               help="URL BMCs reach http_root at, to fetch virtual media (the agent's "
                    "ISO). Default: http_url."),
    cfg.BoolOpt("serve_http_root", default=True,
                help="Serve http_root from each conductor process on "
                     "[api] host_ip:[deploy] http_port. Turn off when a web server such "
                     "as nginx serves it (see docs/ipxe.md)."),
    cfg.PortOpt("http_port", default=6386,
                help="Port of the HTTP root served by the conductor."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)
    conf.register_group(deploy)
    conf.register_opts(deploy_opts, group=deploy)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts), (deploy, deploy_opts)]
