"""[image_cache]: the conductor's master image cache.

Ironic keeps these options in [pxe]; the same names are read from [pxe] too, so an Ironic
configuration file keeps working.
"""

from oslo_config import cfg

GROUP = "image_cache"

group = cfg.OptGroup(GROUP, title="Conductor image cache")


def _from_pxe(name: str) -> list[cfg.DeprecatedOpt]:
    return [cfg.DeprecatedOpt(name, group="pxe")]


opts = [
    cfg.StrOpt("instance_master_path", default="$state_path/master_images",
               deprecated_opts=_from_pxe("instance_master_path"),
               help="Directory of the master copies of images the conductor caches "
                    "(file:// images, and images it serves over its own HTTP server). "
                    "Put it on the filesystem of the HTTP root: entries are hard linked "
                    "out, and copied only across filesystems."),
    cfg.IntOpt("image_cache_size", default=20480, min=0,
               deprecated_opts=_from_pxe("image_cache_size"),
               help="Maximum size in MiB of the master images, including those in use. "
                    "Cleanup removes the least recently used entries that are not in use "
                    "until the cache fits; entries in use are never removed."),
    cfg.IntOpt("image_cache_ttl", default=10080, min=0,
               deprecated_opts=_from_pxe("image_cache_ttl"),
               help="Minutes after its last use an entry that is not in use is removed."),
    cfg.IntOpt("download_lock_timeout", default=3600, min=1,
               help="Seconds a conductor waits for another process that is putting the "
                    "same image into the cache (a download in progress) before it gives "
                    "up. ingot only."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts)]
