"""Virtualenvs for the OpenStack services the tests run beside ingot (Swift, Glance,
Keystone, Ironic): installed once under ~/.cache/ingot-tests (INGOT_TEST_CACHE
overrides) and reused while their pinned requirements stay the same."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence

CACHE = pathlib.Path(os.environ.get("INGOT_TEST_CACHE",
                                    pathlib.Path.home() / ".cache" / "ingot-tests"))


class InstallFailed(RuntimeError):
    """A venv could not be built; the message has the tail of pip's output."""


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    CACHE.mkdir(parents=True, exist_ok=True)
    # Several pytest processes (or CI jobs sharing a cache) may install at once.
    with open(CACHE / f"{name}-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def run(argv: Sequence[str], what: str, timeout: float,
        env: dict[str, str] | None = None) -> None:
    try:
        result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout,
                                env={**os.environ, **(env or {})}, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise InstallFailed(f"{what}: {exc}") from None
    if result.returncode != 0:
        tail = (result.stdout + result.stderr).strip()[-2000:]
        raise InstallFailed(f"{what} failed:\n{tail}")


def ensure(name: str, requirements: Sequence[str], *, timeout: float = 900.0,
           after: Callable[[pathlib.Path], None] | None = None) -> pathlib.Path:
    """The venv ``<name>-venv`` holding requirements, built on first use.

    ``after`` runs once in a fresh venv (e.g. a template database); the marker written
    last means a venv interrupted half-way is rebuilt, not trusted.
    """
    venv = CACHE / f"{name}-venv"
    done = venv / ".ingot-installed"
    marker = "\n".join(requirements) + "\n"
    if done.exists() and done.read_text() == marker:
        return venv
    with _lock(name):
        if done.exists() and done.read_text() == marker:
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        what = f"installing {' '.join(requirements)} into {venv}"
        run([sys.executable, "-m", "venv", str(venv)], what, timeout)
        run([str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet",
             *requirements], what, timeout)
        if after is not None:
            after(venv)
        done.write_text(marker)
    return venv
