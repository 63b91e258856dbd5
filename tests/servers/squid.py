"""A real Squid caching proxy with its own config, cache and logs, on a free port.

Configured as ../shared/reference/real-components.md found necessary for images: large
objects cached, query strings kept in the log, collapsed forwarding so concurrent
misses for one URL make a single origin fetch. Squid drops to the ``proxy`` user, so
its directory lives under /var/tmp (pytest's tmp dirs are not reachable for it).
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import pwd
import shutil
import socket
import subprocess
import tempfile

from tests.servers.process import Process, free_port, unavailable, wait_until

SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

CONFIG = """\
http_port 127.0.0.1:{port}
pid_filename {dir}/squid.pid
cache_effective_user {user}
cache_dir ufs {dir}/cache 1024 16 256
cache_mem 64 MB
maximum_object_size 16 GB
collapsed_forwarding on
quick_abort_min -1 KB
strip_query_terms off
shutdown_lifetime 1 seconds
access_log stdio:{dir}/access.log
cache_log {dir}/cache.log
cache_store_log none
coredump_dir {dir}
visible_hostname ingot-test-squid
refresh_pattern -i \\? 1440 100% 10080
refresh_pattern . 1440 100% 10080
acl local src 127.0.0.1/32
http_access allow local
http_access deny all
"""


def _accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Squid:
    def __init__(self) -> None:
        self.binary = shutil.which("squid", path=SBIN)
        if self.binary is None:
            unavailable("squid is not installed (Debian package squid)")
        try:
            self.user = pwd.getpwnam("proxy")
        except KeyError:
            unavailable("the proxy user (created by the squid package) does not exist")
        self.dir = pathlib.Path(tempfile.mkdtemp(prefix="ingot-squid-", dir="/var/tmp"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = self.dir / "squid.conf"
        self.config.write_text(CONFIG.format(port=self.port, dir=self.dir,
                                             user=self.user.pw_name))
        (self.dir / "cache").mkdir()
        for path in (self.dir, self.dir / "cache"):
            os.chown(path, self.user.pw_uid, self.user.pw_gid)
        self.process: Process | None = None

    def start(self, timeout: float = 30) -> Squid:
        assert self.binary is not None
        created = subprocess.run([self.binary, "-N", "-z", "-f", str(self.config)],
                                 capture_output=True, text=True, timeout=timeout,
                                 check=False)
        if created.returncode != 0:
            raise RuntimeError(f"squid -z failed: {created.stderr}{self.cache_log()}")
        self.process = Process([self.binary, "-N", "-f", str(self.config)],
                               str(self.dir / "squid.out"))
        try:
            wait_until(lambda: _accepts(self.port), timeout, "squid")
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"squid did not start:\n{self.cache_log()}") from None
        return self

    def access_log(self) -> str:
        path = self.dir / "access.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def access_lines(self, needle: str) -> list[str]:
        return [line for line in self.access_log().splitlines() if needle in line]

    def logged(self, needle: str, count: int = 1, timeout: float = 15) -> list[str]:
        """The log lines naming ``needle`` once at least ``count`` are there.

        Squid writes a transaction's line after the client already has its answer, so
        a check straight after a request races the log; this waits for it instead.
        """
        # On a timeout the caller's assertion says what was there.
        with contextlib.suppress(TimeoutError):
            wait_until(lambda: len(self.access_lines(needle)) >= count, timeout,
                       f"{count} squid log line(s) for {needle}")
        return self.access_lines(needle)

    def cache_log(self) -> str:
        path = self.dir / "cache.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=15)
            self.process = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> Squid:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
