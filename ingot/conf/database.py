"""[database] options."""

from oslo_config import cfg

group = cfg.OptGroup("database", title="Database")

opts = [
    cfg.StrOpt("connection", secret=True,
               help="SQLAlchemy URL of the database. Defaults to SQLite at "
                    "$state_path/ingot.sqlite; PostgreSQL (postgresql+psycopg://) is "
                    "supported for several conductors."),
    cfg.IntOpt("max_pool_size", default=5,
               help="Connections kept open per process, at least one for each thread "
                    "of the service that uses the database (its worker threads, the "
                    "event loop, a conductor's heartbeat and write batch)."),
    cfg.IntOpt("sqlite_busy_timeout", default=5000,
               help="Milliseconds SQLite waits for another process's write lock."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[str | cfg.OptGroup | None, list[cfg.Opt]]]:
    return [(group, opts)]
