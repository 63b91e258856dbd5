"""Image format safety with oslo.utils' format inspector, and conversion with qemu-img.

An image declared ``raw`` must not really be a virtual-disk format (qcow2, vmdk, ...);
a non-raw image must be exactly what its ``disk_format`` says, be a permitted format,
and pass the inspector's safety check (no backing file, no external data file) before
qemu-img ever reads it, because qemu-img would follow those references to files of
the host.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
import subprocess
from collections.abc import Sequence

from oslo_utils.imageutils import format_inspector

# Formats whose bytes are the disk as-is: a "raw" image may look like these.
RAW_LIKE = frozenset({"raw", "gpt", "iso"})
DEFAULT_PERMITTED = ("raw", "gpt", "qcow2")
# Enough of a stream's head for every inspector that decides from the start of an image.
HEAD_BYTES = 1 << 20
CONVERT_MEMORY_LIMIT = 2 << 30


class ImageFormatError(ValueError):
    """The image is unsafe, of an unexpected format, or cannot be inspected."""


@dataclasses.dataclass(frozen=True)
class InspectedImage:
    format: str  # "raw" for anything RAW_LIKE, else the inspector's name
    detected: str  # what the inspector said ("gpt", "qcow2", ...)
    virtual_size: int


def _normalized(name: str) -> str:
    return "raw" if name in RAW_LIKE else name


def _check_declared(detected: str, declared: str | None,
                    permitted: Sequence[str]) -> str:
    actual = _normalized(detected)
    wanted = _normalized(declared) if declared and declared != "unknown" else None
    if wanted is not None and wanted != actual:
        raise ImageFormatError(f"Security: the image's disk_format is {declared!r} but "
                               f"its content is {detected!r}.")
    if actual not in {_normalized(name) for name in permitted}:
        raise ImageFormatError(f"Image format {detected!r} is not permitted (permitted: "
                               f"{', '.join(permitted)}).")
    return actual


def check_stream_head(head: bytes, declared: str | None) -> str:
    """For an image streamed straight to disk: make sure its first bytes are not a
    virtual-disk format when ``declared`` is raw. Returns the detected format name."""
    wrapper = format_inspector.InspectWrapper(io.BytesIO(head))
    try:
        while wrapper.read(64 << 10):
            pass
    finally:
        wrapper.close()
    try:
        matches = wrapper.formats or []
    except format_inspector.ImageFormatError as exc:
        raise ImageFormatError(f"Cannot determine the image format safely: {exc}") from exc
    names = sorted(str(match) for match in matches)
    if declared in (None, "raw", "gpt") and not set(names) <= RAW_LIKE:
        raise ImageFormatError(f"Security: the image's disk_format is "
                               f"{declared or 'raw'!r} but its content is "
                               f"{'+'.join(names)!r}.")
    return "+".join(names) or "raw"


def inspect_file(path: str, declared: str | None,
                 permitted: Sequence[str] = DEFAULT_PERMITTED) -> InspectedImage:
    """Detect ``path``'s format, run the safety checks and compare with ``declared``.

    Raises ImageFormatError with a message fit for the deploy's last_error.
    """
    try:
        inspector = format_inspector.detect_file_format(path)
    except format_inspector.ImageFormatError as exc:
        raise ImageFormatError(f"Cannot determine the image format safely: {exc}") from exc
    if inspector is None:
        raise ImageFormatError("Cannot determine the image format.")
    try:
        inspector.safety_check()
    except format_inspector.SafetyCheckFailed as exc:
        failures = "; ".join(f"{name}: {failure}" for name, failure in exc.failures.items())
        raise ImageFormatError(f"Security: image {inspector} failed the safety check "
                               f"({failures}).") from exc
    except format_inspector.ImageFormatError as exc:
        raise ImageFormatError(f"Image {inspector} cannot be safety checked: {exc}") \
            from exc
    actual = _check_declared(str(inspector), declared, permitted)
    size = inspector.virtual_size if actual != "raw" else os.path.getsize(path)
    return InspectedImage(actual, str(inspector), size)


def qemu_img() -> str:
    path = shutil.which("qemu-img")
    if path is None:
        raise ImageFormatError("qemu-img is not installed (Debian package qemu-utils); it "
                               "is needed to write non-raw images.")
    return path


def _direct_io_works(path: str) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_DIRECT)
    except OSError:
        return False
    os.close(fd)
    return True


def convert_to_raw(source: str, source_format: str, target: str, *,
                   timeout: float | None = None) -> None:
    """Write ``source`` (of ``source_format``, already inspected) onto the existing
    ``target`` as raw bytes with qemu-img, then fsync the target.

    The target is used as it is (``-n``): a file or block device at least as large as
    the image's virtual size; unallocated areas of the image are written as zeros.
    """
    argv = [qemu_img(), "convert", "-n", "-f", source_format, "-O", "raw",
            "-t", "none" if _direct_io_works(target) else "writeback", "-W",
            source, target]
    prlimit = shutil.which("prlimit")
    if prlimit:
        # As IPA: a hostile image must not make qemu-img eat the agent's memory.
        argv = [prlimit, f"--as={CONVERT_MEMORY_LIMIT}", "--", *argv]
    env = {**os.environ, "MALLOC_ARENA_MAX": "3", "LC_ALL": "C"}
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                              env=env, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ImageFormatError(f"qemu-img convert did not finish in {timeout} s.") from exc
    if done.returncode != 0:
        raise ImageFormatError(f"qemu-img convert to {target} failed (exit code "
                               f"{done.returncode}): {done.stderr.strip()[-2000:]}")
    fd = os.open(target, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
