#!/usr/bin/env python3
"""Agent image download benchmark (issue 3): ingot's agent against the real IPA code path.

    .venv/bin/python bench/agent_download.py [--size-mib 2048] [--work-dir DIR]

A raw image of random bytes is served over loopback by a private nginx (sendfile, not
the bottleneck) and written to a fresh target file and to a warm loop device. In the
same run the script measures the physical limit of each stage on this machine: curl
to /dev/null, hashlib sha256 over the data, and writing the target (buffered + fsync,
and O_DIRECT + fsync). It then runs ingot's writer (download, verify, write, fsync)
and ironic-python-agent 13's ``StandbyExtension._stream_raw_image_onto_device`` (pip
package installed by this script into ~/.cache/ingot-bench/ipa-venv) onto the same
targets, and prints MiB/s with ratios. IPA neither fsyncs nor inspects; its time is
measured as it returns, with the fsync cost shown separately.

Targets of issue 3: ingot >= 1.5x IPA on both targets and >= 90% of the slowest
stage's limit, the image verified and durable before success is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import hashlib
import json
import mmap
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

from ingot.agent.download import Progress
from ingot.agent.writer import ImageDownload, write_image
from ingot.images.checksum import ExpectedDigest

MiB = 1 << 20
CHUNK = 8 * MiB
IPA_VERSION = "13.0.0"
CACHE = pathlib.Path.home() / ".cache" / "ingot-bench"
SBIN = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])

NGINX_CONFIG = """\
daemon off;
worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/nginx-error.log;
events {{ worker_connections 256; }}
http {{
    log_format counted '$request_uri $status $body_bytes_sent';
    access_log {dir}/nginx-access.log counted;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {dir}/tmp;
    proxy_temp_path {dir}/tmp;
    fastcgi_temp_path {dir}/tmp;
    uwsgi_temp_path {dir}/tmp;
    scgi_temp_path {dir}/tmp;
    server {{
        listen 127.0.0.1:{port};
        root {root};
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(text: str) -> None:
    print(text, flush=True)


class Nginx:
    """A static file server with its own config on a free port, stopped by PID."""

    def __init__(self, root: pathlib.Path, state: pathlib.Path):
        binary = shutil.which("nginx", path=SBIN)
        if binary is None:
            raise SystemExit("nginx is not installed (Debian package nginx)")
        self.binary = binary
        self.state = state
        (state / "tmp").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = state / "nginx.conf"
        self.config.write_text(NGINX_CONFIG.format(dir=state, port=self.port, root=root))
        (state / "nginx-access.log").unlink(missing_ok=True)  # counts are per run
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Nginx:
        self.process = subprocess.Popen([self.binary, "-c", str(self.config), "-p",
                                         str(self.state)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection(
                    ("127.0.0.1", self.port), timeout=0.5):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.__exit__()
        raise SystemExit(f"nginx did not start: {self.state / 'nginx-error.log'}")

    def __exit__(self, *exc: object) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def requests(self, path: str) -> list[tuple[int, int]]:
        """(status, body bytes) of each request for ``path`` so far."""
        log = self.state / "nginx-access.log"
        found = []
        for line in log.read_text().splitlines() if log.exists() else []:
            uri, status, size = line.split(" ")
            if uri.split("?")[0] == path:
                found.append((int(status), int(size)))
        return found


def make_image(path: pathlib.Path, size: int) -> str:
    """Random bytes (incompressible, no zero blocks to skip); sha256 kept alongside."""
    digest_file = path.with_suffix(".sha256")
    if path.exists() and path.stat().st_size == size and digest_file.exists():
        return digest_file.read_text().strip()
    say(f"creating a {size // MiB} MiB random image in {path} ...")
    digest = hashlib.sha256()
    with open(path, "wb") as f:
        for _ in range(size // CHUNK):
            block = os.urandom(CHUNK)
            digest.update(block)
            f.write(block)
        rest = os.urandom(size % CHUNK)
        digest.update(rest)
        f.write(rest)
    digest_file.write_text(digest.hexdigest())
    return digest.hexdigest()


@contextlib.contextmanager
def loop_device(backing: pathlib.Path, size: int) -> Iterator[str]:
    losetup = shutil.which("losetup", path=SBIN)
    if losetup is None:
        raise SystemExit("losetup is not available")
    with open(backing, "wb") as f:
        f.truncate(size)
    device = subprocess.run([losetup, "--find", "--show", str(backing)], check=True,
                            capture_output=True, text=True).stdout.strip()
    try:
        yield device
    finally:
        subprocess.run([losetup, "--detach", device], check=False, timeout=60)
        backing.unlink(missing_ok=True)


@dataclasses.dataclass
class Row:
    name: str
    target: str
    mib_s: float
    note: str = ""


def timed(size: int, run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return size / MiB / (time.perf_counter() - started)


def curl_speed(url: str) -> float:
    curl = shutil.which("curl")
    if curl is None:
        raise SystemExit("curl is not installed")
    out = subprocess.run([curl, "-s", "-o", "/dev/null", "-w", "%{speed_download}", url],
                         check=True, capture_output=True, text=True).stdout
    return float(out) / MiB


def sha256_speed(path: pathlib.Path) -> float:
    """Hashing alone: the file is read from the page cache, only update() is timed."""
    buffer = mmap.mmap(-1, CHUNK)
    view = memoryview(buffer)
    digest = hashlib.sha256()
    spent = 0.0
    total = 0
    with open(path, "rb", buffering=0) as f:
        while count := f.readinto(view):
            started = time.perf_counter()
            digest.update(view[:count])
            spent += time.perf_counter() - started
            total += count
    view.release()
    buffer.close()
    return total / MiB / spent


def write_speed(target: str, size: int, direct: bool) -> float:
    """Write ``size`` bytes of non-zero data (one buffer, repeated) and fsync."""
    buffer = mmap.mmap(-1, CHUNK)
    buffer.write(os.urandom(CHUNK))
    view = memoryview(buffer)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_DIRECT if direct else 0)

    def run() -> None:
        fd = os.open(target, flags, 0o644)
        try:
            for offset in range(0, size, CHUNK):
                os.pwrite(fd, view[:min(CHUNK, size - offset)], offset)
            os.fsync(fd)
        finally:
            os.close(fd)
    try:
        return timed(size, run)
    finally:
        view.release()
        buffer.close()


def show_progress(label: str) -> Callable[[Progress], None]:
    def update(progress: Progress) -> None:
        total = progress.total or 0
        percent = 100 * progress.bytes_done / total if total else 0
        print(f"\r  {label}: {progress.bytes_done / MiB:7.0f} / {total / MiB:.0f} MiB "
              f"({percent:5.1f}%) {progress.bytes_per_second / MiB:6.0f} MiB/s", end="",
              flush=True)
    return update


def ingot_speed(url: str, digest: str, target: str, size: int, label: str) -> float:
    source = ImageDownload([url], ExpectedDigest("sha256", digest, "bench"), "raw")
    started = time.perf_counter()
    result = write_image(target, source, progress=show_progress(label))
    seconds = time.perf_counter() - started
    print()
    assert result.image_bytes == size and result.digest == digest  # verified, fsynced
    return size / MiB / seconds


IPA_RUNNER = textwrap.dedent("""\
    import json, os, sys, time
    from oslo_config import cfg
    from ironic_python_agent import config  # registers IPA's options
    cfg.CONF([], project="ironic-python-agent")
    cfg.CONF.set_override("image_download_connection_retries", 0)
    from ironic_python_agent.extensions import standby
    url, digest, target = sys.argv[1:4]
    ext = standby.StandbyExtension()
    ext.partition_uuids = {}
    info = {"id": "bench.img", "urls": [url], "disk_format": "raw",
            "stream_raw_images": True, "os_hash_algo": "sha256", "os_hash_value": digest}
    started = time.monotonic()
    error = None
    try:
        ext._stream_raw_image_onto_device(info, target)
    except Exception as exc:  # after the stream: lsblk refuses regular files
        error = repr(exc)
    seconds = time.monotonic() - started
    fd = os.open(target, os.O_RDONLY)
    os.fsync(fd)
    os.close(fd)
    print(json.dumps({"seconds": seconds, "synced": time.monotonic() - started,
                      "error": error}))
""")


def ipa_python() -> pathlib.Path:
    venv = CACHE / "ipa-venv"
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import importlib.metadata as m; "
             "print(m.version('ironic-python-agent'))"]
    if python.exists() and subprocess.run(check, capture_output=True, text=True
                                          ).stdout.strip() == IPA_VERSION:
        return python
    say(f"installing ironic-python-agent {IPA_VERSION} into {venv} (about 20 s) ...")
    CACHE.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "-q",
                    f"ironic-python-agent=={IPA_VERSION}"], check=True)
    return python


def ipa_speed(python: pathlib.Path, url: str, digest: str, target: str,
              size: int) -> tuple[float, float, str]:
    runner = CACHE / "ipa_stream.py"
    runner.write_text(IPA_RUNNER)
    done = subprocess.run([str(python), str(runner), url, digest, target],
                          capture_output=True, text=True, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"IPA run failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    error = result["error"] or ""
    if "Checksum" in error or "Download" in error:
        raise RuntimeError(f"IPA failed to stream the image: {error}")
    note = "post-stream lsblk fails on files" if "lsblk" in error else ""
    return size / MiB / result["seconds"], size / MiB / result["synced"], note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=2048)
    parser.add_argument("--work-dir", default="/var/tmp/ingot-bench",
                        help="on a real disk (not tmpfs): image, targets, loop backing file")
    parser.add_argument("--skip-ipa", action="store_true")
    parser.add_argument("--skip-loop", action="store_true")
    args = parser.parse_args()
    size = args.size_mib * MiB
    work = pathlib.Path(args.work_dir)
    (work / "www").mkdir(parents=True, exist_ok=True)
    digest = make_image(work / "www" / "image.raw", size)
    ipa = None if args.skip_ipa else ipa_python()
    rows: list[Row] = []
    file_target = str(work / "target.img")

    def fresh_file() -> str:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(file_target)
        return file_target

    with Nginx(work / "www", work / "nginx") as nginx, contextlib.ExitStack() as stack:
        url = f"{nginx.url}/image.raw"
        say(f"image: {size // MiB} MiB at {url}; nginx pid {nginx.process and nginx.process.pid}")
        say("stage limits ...")
        curl = max(curl_speed(url) for _ in range(2))
        rows.append(Row("limit: curl to /dev/null", "-", curl))
        rows.append(Row("limit: hashlib sha256", "-", sha256_speed(work / "www" / "image.raw")))
        targets = [("file", fresh_file)]
        if not args.skip_loop:
            device = stack.enter_context(loop_device(work / "loop-backing.img", size + 64 * MiB))
            say(f"loop device {device}: warming (one untimed O_DIRECT pass) ...")
            write_speed(device, size, direct=True)
            targets.append(("loop", lambda: device))
        for name, target in targets:
            say(f"  writing {name}: buffered + fsync, O_DIRECT + fsync ...")
            rows.append(Row("limit: write + fsync", name, write_speed(target(), size, False)))
            rows.append(Row("limit: O_DIRECT + fsync", name, write_speed(target(), size, True)))
        for name, target in targets:
            rows.append(Row("ingot agent (verified, fsynced)", name,
                            ingot_speed(url, digest, target(), size, f"ingot -> {name}")))
            if ipa is not None:
                say(f"  IPA -> {name} ...")
                speed, synced, note = ipa_speed(ipa, url, digest, target(), size)
                rows.append(Row("IPA 13 _stream_raw_image_onto_device", name, speed,
                                note or "no fsync"))
                rows.append(Row("IPA 13 + fsync afterwards", name, synced))
        with contextlib.suppress(FileNotFoundError):
            os.unlink(file_target)
    report(rows)


def report(rows: list[Row]) -> None:
    print()
    print(f"{'stage':40} {'target':6} {'MiB/s':>8}  note")
    for row in rows:
        print(f"{row.name:40} {row.target:6} {row.mib_s:8.0f}  {row.note}")
    shared = [row.mib_s for row in rows if row.target == "-"]
    print()
    for target in sorted({row.target for row in rows} - {"-"}):
        limits = shared + [row.mib_s for row in rows
                           if row.target == target and row.name.startswith("limit: O_DIRECT")]
        ingot = next((r.mib_s for r in rows if r.target == target and
                      r.name.startswith("ingot")), None)
        ipa = next((r.mib_s for r in rows if r.target == target and
                    r.name.startswith("IPA 13 _stream")), None)
        if ingot is None:
            continue
        slowest = min(limits)
        line = (f"{target}: ingot {ingot:.0f} MiB/s = {100 * ingot / slowest:.0f}% of the "
                f"slowest stage limit ({slowest:.0f}; target >= 90%)")
        if ipa:
            line += f"; {ingot / ipa:.2f}x IPA (target >= 1.5x)"
        print(line)


if __name__ == "__main__":
    main()
