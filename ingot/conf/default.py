"""[DEFAULT] options."""

import os
import socket

from oslo_config import cfg

HARDWARE_INTERFACES = (
    "bios", "boot", "console", "deploy", "firmware", "inspect", "management", "network",
    "power", "raid", "rescue", "storage", "vendor",
)

opts: list[cfg.Opt] = [
    cfg.StrOpt("auth_strategy", default="noauth",
               choices=[("noauth", "no authentication, every caller is admin"),
                        ("http_basic", "HTTP basic authentication against an htpasswd file"),
                        ("keystone", "Keystone token validation")],
               help="Authentication strategy of the API."),
    cfg.StrOpt("http_basic_auth_user_file", default="/etc/ingot/htpasswd",
               help="htpasswd file with bcrypt hashed passwords, used by the http_basic "
                    "auth_strategy."),
    cfg.StrOpt("host", default=socket.gethostname(), sample_default="localhost",
               help="Name of this conductor. Must be unique among the conductors sharing "
                    "a database."),
    cfg.StrOpt("state_path", default=os.path.expanduser("~/.local/state/ingot"),
               sample_default="~/.local/state/ingot",
               help="Top-level directory for ingot's state: the SQLite database, image "
                    "caches and the HTTP root by default."),
    cfg.BoolOpt("debug", default=False, help="Log at debug level."),
    cfg.ListOpt("enabled_hardware_types", default=["fake-hardware", "local-vm"],
                help="Hardware types this conductor loads."),
    cfg.StrOpt("default_resource_class", help="Resource class of new nodes that name none."),
    cfg.StrOpt("default_conductor_group", default="",
               help="Conductor group of new nodes that name none."),
    *(opt for kind in HARDWARE_INTERFACES for opt in (
        cfg.ListOpt(f"enabled_{kind}_interfaces",
                    help=f"{kind.capitalize()} interface implementations nodes may use, as "
                         f"in Ironic. Unset: every implementation ingot has."),
        cfg.StrOpt(f"default_{kind}_interface",
                   help=f"The {kind} interface of new nodes that name none. Unset: the "
                        f"first enabled implementation their hardware type supports."))),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_opts(opts)


def list_opts() -> list[tuple[str | None, list[cfg.Opt]]]:
    return [(None, opts)]
