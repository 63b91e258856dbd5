"""``file://`` images: local files confined to ``[conductor] file_url_allowed_paths``.

Ironic checks the allowlist on the path as written and then links whatever it points
to, so a symbolic link inside an allowed directory can hand out /etc/shadow. Here:

1. ``file://host/...`` is refused unless the host is empty or ``localhost``;
2. the path is resolved with ``os.path.realpath`` and the *real* path must be under an
   allowed directory (themselves resolved) and under none of the system directories;
3. it is opened component by component from ``/`` with ``O_NOFOLLOW`` (``O_PATH``, so
   nothing is read and no device is opened): a link swapped in after the check fails
   the open instead of being followed; it must be a regular file;
4. bytes are only read through that descriptor; a hard link is made from the checked
   directory without following links, and must be the inode that was checked.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import hashlib
import os
import stat
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from oslo_config import cfg

from ingot.images.sources.errors import ImageNotFound, ImageReferenceError
from ingot.images.sources.instance_info import DeclaredImage, declared_image
from ingot.images.sources.record import Fetched, Freshness, ImageSource
from ingot.images.sources.streaming import CHUNK

if TYPE_CHECKING:
    from ingot.images.sources.access import SourceAccess

KIND = "file"
LOCAL_HOSTS = ("", "localhost")
# Never a source of images, even if an allowed directory contains or is one of them:
# Ironic's list, plus what else holds live system state or secrets. Not /root or /home:
# $state_path (default ~/.local/state/ingot) may be there.
BLOCKED_PATHS = ("/dev", "/sys", "/proc", "/boot", "/etc", "/run", "/var/run",
                 "/var/lock", "/var/log", "/var/spool", "/var/lib/private", "/lost+found")
# Hard link failures a copy avoids: another filesystem, protected_hardlinks, too many
# links, or the name removed since it was opened (the descriptor still reads it).
_LINK_FAILURES = (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.EACCES, errno.ENOENT)


@dataclasses.dataclass(frozen=True)
class FileAccess:
    """Where file:// sources may be: ``allowed`` directories, minus ``blocked`` ones."""

    allowed: tuple[str, ...]
    blocked: tuple[str, ...] = BLOCKED_PATHS

    def __post_init__(self) -> None:
        for entry in self.allowed:
            if not os.path.isabs(entry) or ".." in entry.split("/"):
                raise ValueError(f"[conductor] file_url_allowed_paths entry {entry!r} "
                                 f"must be an absolute path without '..'.")

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> FileAccess:
        return cls(tuple(path.rstrip("/") or "/" for path in
                         conf.conductor.file_url_allowed_paths if path))

    def check(self, path: str, reference: str) -> str:
        """The real path of ``path`` if file:// sources may use it; else
        ImageReferenceError saying why (without revealing where a link leads)."""
        if not self.allowed:
            raise ImageReferenceError("file:// image sources are disabled: [conductor] "
                                      "file_url_allowed_paths is empty.")
        written = normal_path(path)
        blocked = _under_any(written, self.blocked)
        if blocked is not None:
            raise ImageReferenceError(f"Security: {written} is under {blocked}, which "
                                      f"file:// image sources may never use.")
        real = os.path.realpath(path)
        blocked = _under_any(real, self.blocked)
        if blocked is not None:
            raise ImageReferenceError(f"Security: {reference} leads through a symbolic link "
                                      f"to a path under {blocked}, which file:// image "
                                      f"sources may never use.")
        if _under_any(real, self.allowed) is None:
            via = "" if real == written else " (after resolving symbolic links)"
            raise ImageReferenceError(f"Security: {reference} is not{via} under [conductor] "
                                      f"file_url_allowed_paths "
                                      f"({', '.join(self.allowed)}).")
        return real


def normal_path(path: str) -> str:
    """path without "..", "." and repeated slashes. os.path.normpath keeps a leading
    "//" (POSIX leaves its meaning open), which would slip "//proc" past the checks."""
    return os.path.normpath("/" + path.lstrip("/"))


def _under_any(path: str, roots: tuple[str, ...]) -> str | None:
    """The first of ``roots`` (as written or resolved) that is or contains ``path``."""
    for root in roots:
        for form in {root, os.path.realpath(root)}:
            if path == form or path.startswith(form.rstrip("/") + "/"):
                return root
    return None


def local_path(reference: str) -> str:
    """The path of a ``file://`` URL on this host (no I/O)."""
    parts = urlsplit(reference)
    if parts.scheme.lower() != "file":
        raise ImageReferenceError(f"not a file:// URL: {reference!r}")
    host = parts.netloc.lower()
    if host not in LOCAL_HOSTS:
        raise ImageReferenceError(f"file:// image sources must be files of the conductor: "
                                  f"use file:///path or file://localhost/path, not host "
                                  f"{parts.netloc!r}.")
    if parts.query or parts.fragment:
        raise ImageReferenceError(f"a file:// URL has no query or fragment: {reference!r}")
    path = unquote(parts.path)
    if not path.startswith("/") or "\0" in path:
        raise ImageReferenceError(f"file:// URL {reference!r} has no absolute path.")
    # Refused as written already here, so the API answers 400 before any deploy starts;
    # FileAccess.check does it again on the resolved path.
    written = normal_path(path)
    blocked = _under_any(written, BLOCKED_PATHS)
    if blocked is not None:
        raise ImageReferenceError(f"{written} is under {blocked}, which file:// image "
                                  f"sources may never use (special or system files).")
    return path


@dataclasses.dataclass(frozen=True)
class OpenedFile:
    """``fd`` (O_PATH) is the file, ``parent_fd`` (O_PATH) its directory."""

    path: str
    parent_fd: int
    name: str
    fd: int
    info: os.stat_result


@contextlib.contextmanager
def opened(real_path: str) -> Iterator[OpenedFile]:
    """``real_path`` opened with ``O_PATH``, refusing any symbolic link on the way and
    anything but a regular file. Reads nothing."""
    flags = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    names = [name for name in real_path.split("/") if name]
    if not names:
        raise ImageReferenceError("file:// image source is a directory.")
    descriptors = [os.open("/", flags | os.O_DIRECTORY)]
    try:
        for index, name in enumerate(names):
            last = index == len(names) - 1
            try:
                descriptors.append(os.open(name, flags | (0 if last else os.O_DIRECTORY),
                                           dir_fd=descriptors[-1]))
            except FileNotFoundError:
                raise ImageNotFound(f"file:// image {real_path} does not exist.") from None
            except OSError as exc:  # ENOTDIR/ELOOP: a link appeared after the check
                raise ImageReferenceError(f"Security: {real_path} changed while being "
                                          f"opened ({os.strerror(exc.errno or 0)}); "
                                          f"refusing it.") from None
        info = os.fstat(descriptors[-1])
        if not stat.S_ISREG(info.st_mode):
            raise ImageReferenceError(f"file:// image {real_path} is not a regular file.")
        yield OpenedFile(real_path, descriptors[-2], names[-1], descriptors[-1], info)
    finally:
        for fd in descriptors:
            os.close(fd)


def identity(info: os.stat_result) -> str:
    return f"{info.st_dev}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def resolve(reference: str, declared: DeclaredImage, access: FileAccess) -> ImageSource:
    real = access.check(local_path(reference), reference)
    with opened(real) as image:
        size, ident = image.info.st_size, identity(image.info)
    return ImageSource(
        reference=reference, kind=KIND, size=size, digests=declared.digests,
        freshness=Freshness(file_identity=ident), disk_format=declared.disk_format,
        image_type=declared.image_type, path=real)


def _readable(image: OpenedFile) -> int:
    """A readable descriptor of the inode ``image.fd`` (O_PATH) refers to."""
    try:
        return os.open(f"/proc/self/fd/{image.fd}", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:  # no /proc: reopen by name, then make sure it is the same file
        readable = os.open(image.name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
                           | os.O_NONBLOCK, dir_fd=image.parent_fd)
        _same_or_refuse(os.fstat(readable), image, lambda: os.close(readable))
        return readable


def _same_or_refuse(info: os.stat_result, image: OpenedFile, undo: Callable[[], None]) -> None:
    if (info.st_dev, info.st_ino) != (image.info.st_dev, image.info.st_ino) \
            or not stat.S_ISREG(info.st_mode):
        undo()
        raise ImageReferenceError(f"Security: {image.path} changed while being opened; "
                                  f"refusing it.")


def _copy(image: OpenedFile, path: str, algorithm: str, freshness: Freshness) -> Fetched:
    hasher = hashlib.new(algorithm)
    size = 0
    source = _readable(image)
    try:
        out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        try:
            while chunk := os.read(source, CHUNK):
                _write_all(out, chunk)
                hasher.update(chunk)
                size += len(chunk)
        finally:
            os.close(out)
    finally:
        os.close(source)
    return Fetched("copy", size, {hasher.name: hasher.hexdigest()}, freshness)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _hard_link(image: OpenedFile, path: str) -> bool:
    """Link the checked file to ``path``; False when only a copy can work.

    The name is linked from the checked directory without following links, and the
    result must be the inode that was checked: a file swapped in meanwhile is refused.
    """
    try:
        os.link(image.name, path, src_dir_fd=image.parent_fd, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in _LINK_FAILURES:
            return False
        raise
    _same_or_refuse(os.lstat(path), image, lambda: os.unlink(path))
    return True


def fetch_into(source: ImageSource, path: str, algorithm: str, access: FileAccess,
               *, allow_link: bool = True) -> Fetched:
    """Hard link the source to ``path`` (same filesystem), else copy it. The policy is
    checked again: the record may be older than a configuration change or a new link."""
    real = access.check(local_path(source.reference), source.reference)
    with opened(real) as image:
        freshness = Freshness(file_identity=identity(image.info))
        if allow_link and _hard_link(image, path):
            return Fetched("hardlink", image.info.st_size, {}, freshness)
        return _copy(image, path, algorithm, freshness)


class FileScheme:
    """file://: only the conductor can read it, so it always serves the image."""

    kind = KIND

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        try:
            local_path(reference)
        except ImageReferenceError as exc:
            raise ImageReferenceError(f"image_source {exc}") from None
        declared_image(instance_info, allow_md5=allow_md5)

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: SourceAccess) -> ImageSource:
        return resolve(reference, declared_image(instance_info, allow_md5=access.allow_md5),
                       _enabled(access))

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: SourceAccess) -> Fetched:
        return fetch_into(source, path, algorithm, _enabled(access))

    def agent_url(self, source: ImageSource, access: SourceAccess) -> str | None:
        return None


def _enabled(access: SourceAccess) -> FileAccess:
    if access.file_access is None:
        raise ImageReferenceError("file:// image sources are not enabled on this conductor.")
    return access.file_access


SOURCE = FileScheme()
