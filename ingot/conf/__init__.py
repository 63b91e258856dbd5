"""ingot's configuration: oslo.config options named as in Ironic where Ironic has them."""

from oslo_config import cfg

from ingot.conf import api, conductor, database, default

CONF = cfg.CONF

for _module in (default, api, database, conductor):
    _module.register(CONF)


def load(args: list[str], default_config_files: list[str] | None = None) -> cfg.ConfigOpts:
    """Parse command line arguments and INI files into the global CONF."""
    CONF(args, project="ingot", default_config_files=default_config_files or [])
    return CONF
