"""The agent's Python libraries from PyPI, pinned to the versions ingot itself runs with,
and ingot's own package (the only part that changes with ingot's code)."""

from __future__ import annotations

import importlib.metadata
import pathlib
import re
import subprocess
import sys

from packaging.requirements import Requirement

from ingot.ramdisk.debian import BuildError

# What `ingot agent` imports beyond the standard library; their dependencies follow.
AGENT_REQUIREMENTS = ("httpx", "starlette", "uvicorn", "pycdlib", "oslo.utils",
                      "cryptography")
# Installed where Debian's python3 looks (site.getsitepackages()).
SITE_PACKAGES = "usr/local/lib/python3.11/dist-packages"
INGOT_SITE = "usr/lib/python3/dist-packages"


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_closure(roots: tuple[str, ...] = AGENT_REQUIREMENTS) -> list[str]:
    """``name==version`` of the roots and their dependencies, as installed here (the
    ramdisk runs the same Python version on Linux; extras are left out)."""
    pins: dict[str, str] = {}
    pending = list(roots)
    while pending:
        name = _canonical(pending.pop())
        if name in pins:
            continue
        try:
            distribution = importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            raise BuildError(f"{name} is not installed with ingot: cannot pin it") from None
        pins[name] = distribution.version
        for line in distribution.requires or []:
            requirement = Requirement(line)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return [f"{name}=={version}" for name, version in sorted(pins.items())]


def install(pins: list[str], target: pathlib.Path) -> None:
    """pip-install exactly these pins (no resolver, no .pyc) into ``target``."""
    argv = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-compile",
            "--disable-pip-version-check", "--target", str(target), *pins]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise BuildError(f"pip install of the agent's libraries failed: "
                         f"{done.stderr.strip()[-1500:]}")


def ingot_files(package: pathlib.Path | None = None) -> list[tuple[str, bytes]]:
    """(path under site-packages, bytes) of the ingot package (this one unless
    ``package`` names another copy) and a minimal dist-info, so that the agent reports
    ingot's version. Only the contents count, never where the package lives."""
    if package is None:
        import ingot  # noqa: PLC0415 - the package being packed

        package = pathlib.Path(ingot.__file__).parent
    files = [(f"ingot/{path.relative_to(package).as_posix()}", path.read_bytes())
             for path in sorted(package.rglob("*"))
             if path.is_file() and "__pycache__" not in path.parts
             and path.suffix not in (".pyc", ".pyo")]
    version = importlib.metadata.version("ingot")
    metadata = f"Metadata-Version: 2.1\nName: ingot\nVersion: {version}\n".encode()
    files.append((f"ingot-{version}.dist-info/METADATA", metadata))
    return files
