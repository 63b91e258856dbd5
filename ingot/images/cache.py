"""The conductor's image cache: verified master copies, hard linked out to where they
are served from.

Layout of ``[image_cache] instance_master_path`` (one flat directory, so a rename into
place is atomic and a hard link out never crosses a filesystem by accident)::

    <key>             the master copy (read-only by convention: it is hard linked out)
    <key>.json        its metadata: source, ETag, Last-Modified, digests, size, times
    <key>.lock        the entry's lock file (fcntl.flock)
    .tmp-<key>-<rnd>  a fetch in progress (renamed to <key> once verified)
    .cleanup.lock     held by the one process cleaning up

Where Ironic's ImageCache falls short, this one:

* locks across processes (flock per entry, and for cleanup), so conductors sharing the
  directory download an image once;
* decides freshness from stored validators (ETag, Last-Modified, a file's identity,
  Glance's content digest), never from the master's mtime: an origin file replaced by
  one with an *older* Last-Modified is still fetched again;
* verifies the digest before an entry is published; a crash leaves no entry whose
  metadata describes other bytes (metadata is removed first and written last);
* links the master out with the same link-or-copy rule on hits and misses (copy when
  the destination is on another filesystem), and survives entries vanishing (ENOENT);
* cleans up by TTL and total size without ever removing an entry in use (a link out
  exists, or its lock is held), and says what it removed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator

from oslo_config import cfg

from ingot.common.redaction import redact_url
from ingot.images.checksum import ExpectedDigest
from ingot.images.sources.record import (
    Fetched,
    FetchInto,
    Freshness,
    ImageSource,
)

LOG = logging.getLogger(__name__)

META_SUFFIX = ".json"
LOCK_SUFFIX = ".lock"
TEMP_PREFIX = ".tmp-"
CLEANUP_LOCK = ".cleanup.lock"
HASH_CHUNK = 4 << 20
# Cache keys are Glance ids or uuid5s: nothing that could name another path.
_KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# Failures of a hard link that a copy avoids: another filesystem, protected_hardlinks,
# too many links.
_COPY_INSTEAD = (errno.EXDEV, errno.EPERM, errno.EMLINK)


class CacheError(RuntimeError):
    """The cache cannot provide the image (no space, lock timeout); says why."""


@dataclasses.dataclass(frozen=True)
class CacheSettings:
    master_path: str
    max_size: int  # bytes, entries in use included
    ttl: float  # seconds since last use
    lock_timeout: float = 3600.0  # seconds to wait for another process's fetch

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> CacheSettings:
        options = conf.image_cache
        return cls(master_path=options.instance_master_path,
                   max_size=options.image_cache_size * 1024 * 1024,
                   ttl=options.image_cache_ttl * 60.0,
                   lock_timeout=float(options.download_lock_timeout))


@dataclasses.dataclass(frozen=True)
class EntryMeta:
    """What ``<key>.json`` holds."""

    key: str
    source: str
    kind: str
    size: int
    digests: dict[str, str]  # algorithm -> hex, all verified against the bytes
    freshness: Freshness
    fetched_at: float
    last_used: float
    method: str  # how the bytes came: download, hardlink, copy
    # Links the master has that are not links out (a file:// source hard linked in
    # shares its inode with the operator's file): more than this means in use.
    base_links: int = 1

    def to_json(self) -> str:
        data = dataclasses.asdict(self)
        data["freshness"] = self.freshness.as_dict()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> EntryMeta:
        data = json.loads(text)
        data["freshness"] = Freshness.from_dict(data.get("freshness") or {})
        names = {field.name for field in dataclasses.fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})

    @property
    def etag(self) -> str | None:
        return self.freshness.etag

    @property
    def last_modified(self) -> str | None:
        return self.freshness.last_modified


@dataclasses.dataclass(frozen=True)
class Placed:
    """An image put at ``path``: ``method`` is ``hardlink`` or ``copy``; ``hit`` is
    True when the cache had it, False when it was fetched (``fetch_method`` says how)."""

    path: str
    method: str
    hit: bool
    fetch_method: str | None
    entry: EntryMeta


@dataclasses.dataclass(frozen=True)
class Removed:
    key: str
    size: int
    reason: str  # "ttl", "size" or "orphan" (a crashed fetch's temporary file)


@dataclasses.dataclass(frozen=True)
class CleanupReport:
    removed: tuple[Removed, ...] = ()
    in_use: tuple[str, ...] = ()  # keys kept because they are in use
    bytes_before: int = 0
    bytes_after: int = 0
    skipped: bool = False  # another process was cleaning up

    @property
    def freed(self) -> int:
        return sum(item.size for item in self.removed)


class FileLock:
    """An exclusive flock on a lock file, across processes (and threads: each lock
    opens its own file description). A lock file removed by its holder (cleanup) is
    detected and the lock taken again on the new file."""

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None

    def acquire(self, timeout: float | None) -> bool:
        """Wait up to ``timeout`` seconds (None: do not wait); True if acquired."""
        deadline = time.monotonic() + (timeout or 0.0)
        delay = 0.01
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                if timeout is None or time.monotonic() >= deadline:
                    return False
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
                continue
            try:
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return True
            os.close(fd)  # locked a file its holder had just removed: try the new one

    def release(self, *, remove: bool = False) -> None:
        """Release; with ``remove``, delete the lock file first (while still held)."""
        if self._fd is None:
            return
        if remove:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None


def hash_file(path: str, algorithm: str) -> str:
    hasher = hashlib.new(algorithm)
    with open(path, "rb") as stream:
        while chunk := stream.read(HASH_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()


def _fsync(path: str, *, directory: bool = False) -> None:
    fd = os.open(path, (os.O_RDONLY | os.O_DIRECTORY) if directory else os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def link_or_copy(master: str, dest: str) -> str:
    """Put ``master`` at ``dest`` (replacing it atomically): a hard link, or a copy when
    linking is impossible (EXDEV...). Returns ``hardlink`` or ``copy``. FileNotFoundError
    if ``master`` is gone."""
    with contextlib.suppress(FileNotFoundError):
        if os.path.samefile(master, dest):
            return "hardlink"
    directory, name = os.path.split(dest)
    temporary = os.path.join(directory, f".{name}.tmp-{secrets.token_hex(6)}")
    try:
        try:
            os.link(master, temporary)
            method = "hardlink"
        except OSError as exc:
            if exc.errno not in _COPY_INSTEAD:
                raise
            shutil.copyfile(master, temporary)
            _fsync(temporary)
            method = "copy"
        os.replace(temporary, dest)
    finally:
        # rename() between two links of one inode does nothing: clear what remains.
        _unlink(temporary)
    return method


class ImageCache:
    """Master copies of images under ``settings.master_path``; safe to share between
    threads and between processes on one host."""

    def __init__(self, settings: CacheSettings):
        self.settings = settings
        self.root = settings.master_path
        os.makedirs(self.root, mode=0o755, exist_ok=True)

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> ImageCache:
        return cls(CacheSettings.from_conf(conf))

    # -- paths -------------------------------------------------------------------

    def data_path(self, key: str) -> str:
        if not _KEY.match(key):
            raise ValueError(f"invalid image cache key {key!r}")
        return os.path.join(self.root, key)

    def _meta_path(self, key: str) -> str:
        return self.data_path(key) + META_SUFFIX

    def _lock(self, key: str) -> FileLock:
        return FileLock(self.data_path(key) + LOCK_SUFFIX)

    @contextlib.contextmanager
    def _locked(self, key: str, what: str | None = None) -> Iterator[None]:
        """what: the image as its user knows it (the key is a hash of its location)."""
        lock = self._lock(key)
        if not lock.acquire(self.settings.lock_timeout):
            raise CacheError(f"The image cache entry of {what or key} is still locked by "
                             f"another process after {self.settings.lock_timeout:.0f} s "
                             f"([image_cache] download_lock_timeout).")
        try:
            yield
        finally:
            lock.release()

    # -- metadata ----------------------------------------------------------------

    def read_meta(self, key: str) -> EntryMeta | None:
        """The entry's metadata; None if absent or unreadable (then the entry is stale)."""
        try:
            with open(self._meta_path(key), encoding="utf-8") as stream:
                return EntryMeta.from_json(stream.read())
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            LOG.warning("Ignoring unreadable image cache metadata of %s: %s", key, exc)
            return None

    def _write_meta(self, meta: EntryMeta) -> None:
        path = self._meta_path(meta.key)
        temporary = os.path.join(self.root, f"{TEMP_PREFIX}{meta.key}-"
                                            f"{secrets.token_hex(6)}{META_SUFFIX}")
        try:
            with open(temporary, "w", encoding="utf-8") as stream:
                stream.write(meta.to_json())
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, path)
        finally:
            _unlink(temporary)

    def entries(self) -> list[EntryMeta]:
        """Metadata of every entry, for listings and tests."""
        found = []
        for name in sorted(os.listdir(self.root)):
            if name.endswith(META_SUFFIX) and _KEY.match(name[:-len(META_SUFFIX)]):
                meta = self.read_meta(name[:-len(META_SUFFIX)])
                if meta is not None:
                    found.append(meta)
        return found

    # -- freshness ---------------------------------------------------------------

    def _digest_matches(self, meta: EntryMeta, expected: ExpectedDigest) -> tuple[bool,
                                                                                  EntryMeta]:
        """Compare with the stored digest, hashing the master once for a new algorithm."""
        known = meta.digests.get(expected.algorithm)
        if known is None:
            known = hash_file(self.data_path(meta.key), expected.algorithm)
            meta = dataclasses.replace(meta, digests={**meta.digests,
                                                      expected.algorithm: known})
        return expected.matches(known), meta

    @staticmethod
    def is_fresh(meta: EntryMeta, source: ImageSource) -> bool:
        """Whether the stored validators say the source still has these bytes."""
        if source.size is not None and source.size != meta.size:
            return False
        if source.immutable:  # Glance: the caller's digest (from Glance) decides
            return True
        now, then = source.freshness, meta.freshness
        if now.file_identity or then.file_identity:
            return now.file_identity == then.file_identity
        if now.etag and then.etag:
            if now.etag != then.etag:
                return False
            # A weak ETag allows byte changes: then Last-Modified must agree as well.
            if not now.etag.startswith("W/"):
                return True
            return bool(now.last_modified) and now.last_modified == then.last_modified
        if now.etag or then.etag:
            return False  # the server started or stopped sending ETags
        # Equality, not ordering: an older Last-Modified is a different file too.
        return bool(now.last_modified) and now.last_modified == then.last_modified

    # -- fetch and link out ------------------------------------------------------

    def fetch(self, source: ImageSource, fetch_into: FetchInto, expected: ExpectedDigest,
              dest: str) -> Placed:
        """Put ``source``'s image at ``dest`` from the cache, fetching it on a miss.

        ``expected`` is the digest the bytes must have (``source.expected_digest()``);
        the whole check-fetch-link runs under the entry's lock, so concurrent callers
        for one image (any process) fetch it once and cleanup cannot remove the entry
        before it is linked out. Raises CacheError, the source's errors, or
        ChecksumMismatch (nothing is published then).
        """
        key = source.cache_key
        data = self.data_path(key)
        with self._locked(key, redact_url(source.reference)):
            meta = self.read_meta(key)
            if meta is not None and self.is_fresh(meta, source):
                matches, meta = self._digest_matches(meta, expected)
                if matches:
                    try:
                        method = link_or_copy(data, dest)
                    except FileNotFoundError:
                        if os.path.exists(data):
                            raise  # the destination's directory is missing
                        LOG.warning("Image cache entry %s vanished; fetching it again", key)
                    else:
                        meta = dataclasses.replace(meta, last_used=time.time())
                        self._write_meta(meta)
                        return Placed(dest, method, True, None, meta)
            meta = self._fetch_new(key, source, fetch_into, expected)
            placed = Placed(dest, link_or_copy(data, dest), False, meta.method, meta)
        self.clean_up(wait=False)
        return placed

    def link(self, key: str, dest: str) -> Placed:
        """Link an existing entry out (whatever its freshness); KeyError if absent."""
        with self._locked(key):
            meta = self.read_meta(key)
            if meta is None:
                raise KeyError(key)
            try:
                method = link_or_copy(self.data_path(key), dest)
            except FileNotFoundError:
                raise KeyError(key) from None
            meta = dataclasses.replace(meta, last_used=time.time())
            self._write_meta(meta)
            return Placed(dest, method, True, None, meta)

    def _make_room(self, size: int | None) -> None:
        if not size:
            return
        stats = os.statvfs(self.root)
        free = stats.f_bavail * stats.f_frsize
        if free >= size:
            return
        report = self.clean_up(amount=size - free)
        stats = os.statvfs(self.root)
        free = stats.f_bavail * stats.f_frsize
        if free < size:
            raise CacheError(f"Not enough space in the image cache {self.root} for an image "
                             f"of {size} bytes: {free} free after cleanup (freed "
                             f"{report.freed}, {len(report.in_use)} entries in use).")

    def _links_in(self, source: ImageSource) -> bool:
        """Whether a file:// source is on the cache's filesystem (a link needs no room)."""
        if source.path is None:  # only file:// sources have a path
            return False
        try:
            return os.stat(source.path).st_dev == os.stat(self.root).st_dev
        except OSError:
            return False

    def _fetch_new(self, key: str, source: ImageSource, fetch_into: FetchInto,
                   expected: ExpectedDigest) -> EntryMeta:
        """Fetch into a temporary file, verify, then publish (caller holds the lock)."""
        if not self._links_in(source):
            self._make_room(source.size)
        temporary = os.path.join(self.root, f"{TEMP_PREFIX}{key}-{secrets.token_hex(6)}")
        try:
            fetched: Fetched = fetch_into(temporary, expected.algorithm)
            digest = fetched.digests.get(expected.algorithm) \
                or hash_file(temporary, expected.algorithm)
            expected.verify(digest, redact_url(source.reference))
            info = os.stat(temporary)
            if fetched.method != "hardlink":  # a linked file's data is already on disk
                _fsync(temporary)
            now = time.time()
            meta = EntryMeta(
                key=key, source=source.reference, kind=str(source.kind), size=info.st_size,
                digests={**fetched.digests, expected.algorithm: digest.lower()},
                freshness=fetched.freshness or source.freshness, fetched_at=now,
                last_used=now, method=fetched.method, base_links=info.st_nlink)
            # Old metadata goes first: a crash before the new one is written leaves an
            # entry without metadata (stale), never metadata describing other bytes.
            _unlink(self._meta_path(key))
            os.replace(temporary, self.data_path(key))
            self._write_meta(meta)
            _fsync(self.root, directory=True)
            return meta
        finally:
            _unlink(temporary)

    # -- cleanup -----------------------------------------------------------------

    def _remove_entry(self, key: str, lock: FileLock) -> None:
        """Delete an entry whose lock the caller holds: metadata first, lock file last."""
        _unlink(self._meta_path(key))
        _unlink(self.data_path(key))
        lock.release(remove=True)

    def _scan(self) -> tuple[dict[str, os.stat_result], dict[str, os.stat_result],
                             set[str]]:
        """(entries, temporary files, keys with metadata but no data)."""
        entries: dict[str, os.stat_result] = {}
        temporaries: dict[str, os.stat_result] = {}
        described: set[str] = set()
        for name in os.listdir(self.root):
            if name.endswith(META_SUFFIX) and not name.startswith(TEMP_PREFIX):
                described.add(name[:-len(META_SUFFIX)])
                continue
            target = temporaries if name.startswith(TEMP_PREFIX) else entries
            if target is entries and not _KEY.match(name):
                continue
            try:
                target[name] = os.stat(os.path.join(self.root, name))
            except FileNotFoundError:
                continue  # removed while listing
        return entries, temporaries, {key for key in described - set(entries)
                                      if _KEY.match(key)}

    def clean_up(self, *, amount: int = 0, now: float | None = None,
                 wait: bool = True) -> CleanupReport:
        """Remove entries not used for the TTL, then the least recently used ones until
        the cache fits its size (and ``amount`` bytes are freed). Entries in use (a link
        out exists, or another process holds the lock) are never removed. ``wait``
        False returns at once (``skipped``) if another process is cleaning up."""
        lock = FileLock(os.path.join(self.root, CLEANUP_LOCK))
        if not lock.acquire(self.settings.lock_timeout if wait else None):
            return CleanupReport(skipped=True)
        try:
            return self._clean_up(amount, time.time() if now is None else now)
        finally:
            lock.release()

    def _clean_up(self, amount: int, now: float) -> CleanupReport:
        entries, temporaries, undescribed = self._scan()
        total = sum(info.st_size for info in (*entries.values(), *temporaries.values()))
        before = total
        removed: list[Removed] = []
        in_use: list[str] = []
        candidates: list[tuple[float, str, int]] = []
        for key, info in entries.items():
            meta = self.read_meta(key)
            base = meta.base_links if meta else 1
            if info.st_nlink > base:
                in_use.append(key)
                continue
            last_used = meta.last_used if meta else info.st_mtime
            candidates.append((last_used, key, info.st_size))
        candidates.sort()
        freed = 0
        for last_used, key, size in candidates:
            expired = now - last_used > self.settings.ttl
            too_big = total > self.settings.max_size or freed < amount
            if not (expired or too_big):
                continue
            entry_lock = self._lock(key)
            if not entry_lock.acquire(None):
                in_use.append(key)  # being fetched or linked out right now
                continue
            try:
                info = os.stat(self.data_path(key))
                meta = self.read_meta(key)
                if info.st_nlink > (meta.base_links if meta else 1):
                    in_use.append(key)
                    entry_lock.release()
                    continue
            except FileNotFoundError:
                pass  # already gone: drop what is left of it
            self._remove_entry(key, entry_lock)
            removed.append(Removed(key, size, "ttl" if expired else "size"))
            total -= size
            freed += size
        for name, info in temporaries.items():
            key = name[len(TEMP_PREFIX):len(TEMP_PREFIX) + 36]
            if not _KEY.match(key):
                continue
            entry_lock = self._lock(key)
            if not entry_lock.acquire(None):
                continue  # a fetch in progress
            try:
                _unlink(os.path.join(self.root, name))
            finally:
                entry_lock.release()
            removed.append(Removed(key, info.st_size, "orphan"))
            total -= info.st_size
        for key in undescribed:  # data removed by hand, or a crash: drop the metadata
            entry_lock = self._lock(key)
            if entry_lock.acquire(None):
                if not os.path.exists(self.data_path(key)):
                    self._remove_entry(key, entry_lock)
                    removed.append(Removed(key, 0, "orphan"))
                else:
                    entry_lock.release()
        if removed:
            LOG.info("Image cache cleanup removed %d entries (%d bytes); %d in use",
                     len(removed), sum(item.size for item in removed), len(in_use))
        return CleanupReport(tuple(removed), tuple(sorted(set(in_use))), before, total)

