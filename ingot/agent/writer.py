"""Writing an image onto the agent's target (a regular file or a block device).

Raw images stream straight to the target while downloading. Three stages overlap:
the download thread receives into page-aligned buffers (anonymous mmap), a hasher
thread digests each full buffer, and a writer thread writes it with O_DIRECT (falling
back to buffered writes where O_DIRECT is refused, and for an unaligned tail). The
target is fsynced and the digest compared before success is reported; if anything
fails once the target was written to, its metadata is erased so the half-written or
wrong image cannot boot.

Other formats (qcow2...) are downloaded to a temporary file in a work directory (not
/tmp, often a small tmpfs), verified, format-inspected (backing and data files are
rejected before the target is touched), checked against ``disk_format`` and converted
onto the target with qemu-img. The temporary file is always deleted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import hashlib
import logging
import mmap
import os
import queue
import stat
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from ingot.agent.download import (
    FetchResult,
    ProgressCallback,
    RetryPolicy,
    Sink,
    Timeouts,
    fetch,
)
from ingot.images import formats
from ingot.images.checksum import ExpectedDigest
from ingot.images.proxies import ProxyPolicy

LOG = logging.getLogger(__name__)

ALIGN = 4096
BUFFER_BYTES = 4 << 20
BUFFERS = 8
ERASE_SPAN = 1 << 20
# A durable target is fdatasync'ed after this many bytes, in the background: the final
# fsync then has little left to do (a loop device would otherwise flush the whole
# image from its backing file's page cache at the end), and buffered fallbacks do not
# pile up gigabytes of dirty pages.
SYNC_EVERY = 256 << 20
_BLKRRPART = 0x125F  # ioctl: re-read the partition table
_STOP = "stop"
_ABORT = "abort"
_RESET = "reset"


class TargetWriteError(RuntimeError):
    """Writing to the target failed, or the image does not fit on it."""


@dataclasses.dataclass(frozen=True)
class TargetInfo:
    path: str
    block_device: bool
    capacity: int | None  # bytes for block devices; None: a file grows as needed
    size: int  # current size in bytes


def describe_target(path: str) -> TargetInfo:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return TargetInfo(path, False, None, 0)
    if stat.S_ISBLK(st.st_mode):
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            size = os.lseek(fd, 0, os.SEEK_END)
        finally:
            os.close(fd)
        return TargetInfo(path, True, size, size)
    if not stat.S_ISREG(st.st_mode):
        raise TargetWriteError(f"Target {path} is neither a regular file nor a block "
                               f"device.")
    return TargetInfo(path, False, None, st.st_size)


@dataclasses.dataclass(frozen=True)
class ImageDownload:
    """What to download and what it must hash to."""

    urls: Sequence[str]
    expected: ExpectedDigest
    disk_format: str | None = "raw"
    policy: ProxyPolicy = dataclasses.field(default_factory=ProxyPolicy)
    headers: Mapping[str, str] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class WriteOptions:
    stream_raw: bool = True
    work_dir: str | None = None  # default: the target's directory for files, else /var/tmp
    permitted_formats: Sequence[str] = formats.DEFAULT_PERMITTED
    retry: RetryPolicy = dataclasses.field(default_factory=RetryPolicy)
    timeouts: Timeouts = dataclasses.field(default_factory=Timeouts)
    buffer_bytes: int = BUFFER_BYTES
    buffers: int = BUFFERS
    convert_timeout: float | None = None


@dataclasses.dataclass(frozen=True)
class WriteResult:
    target: str
    image_bytes: int  # bytes downloaded and verified
    image_format: str
    algorithm: str
    digest: str
    streamed: bool
    direct_io: bool
    seconds: float
    fetch: FetchResult


@dataclasses.dataclass(frozen=True)
class EraseResult:
    target: str
    size: int
    zeroed: tuple[tuple[int, int], ...]  # (offset, length) regions written with zeros


class _Counter:
    """Buffers handed to both the hasher and the writer; free once both are done."""

    def __init__(self, free: queue.SimpleQueue[int]):
        self._free = free
        self._pending: dict[int, int] = {}
        self._lock = threading.Lock()

    def hold(self, index: int) -> None:
        with self._lock:
            self._pending[index] = 2

    def release(self, index: int) -> None:
        with self._lock:
            self._pending[index] -= 1
            done = self._pending[index] == 0
        if done:
            self._free.put(index)


class PipelinedSink(Sink):
    """Receives into aligned buffers; hashes and writes them on two threads.

    ``declared`` (a disk_format) turns on the check that the stream's first bytes are
    not a virtual-disk format, made before anything is written. ``durable`` fsyncs the
    target in ``finish``.
    """

    def __init__(self, path: str, algorithm: str, *, declared: str | None = None,
                 check_head: bool = False, capacity: int | None = None,
                 durable: bool = True, buffer_bytes: int = BUFFER_BYTES,
                 buffers: int = BUFFERS):
        if buffer_bytes % ALIGN or buffer_bytes < formats.HEAD_BYTES or buffers < 2:
            raise ValueError("buffers must be >= 1 MiB, page multiples, at least two")
        self.path = path
        self.algorithm = algorithm
        self.declared = declared
        self.check_head = check_head
        self.capacity = capacity
        self.durable = durable
        self.touched = False  # anything written to the target yet
        self.direct_io = False
        self._size = buffer_bytes
        self._maps = [mmap.mmap(-1, buffer_bytes) for _ in range(buffers)]
        self._views = [memoryview(m) for m in self._maps]
        self._free: queue.SimpleQueue[int] = queue.SimpleQueue()
        for index in range(buffers):
            self._free.put(index)
        self._counter = _Counter(self._free)
        self._hash_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._write_queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._digest: str | None = None
        self._current: int | None = None
        self._fill = 0
        self._base = 0  # stream offset of the current buffer
        self._head_checked = False
        self._fd_lock = threading.Lock()  # the syncer never uses an fd being closed
        self._sync_wanted = threading.Event()
        self._stopping = False
        self._unsynced = 0
        self._direct_fd, self._plain_fd = self._open()
        self._threads = [threading.Thread(target=self._hash_loop, name="image-hasher",
                                          daemon=True),
                         threading.Thread(target=self._write_loop, name="image-writer",
                                          daemon=True)]
        if durable:
            self._threads.append(threading.Thread(target=self._sync_loop,
                                                  name="image-syncer", daemon=True))
        for thread in self._threads:
            thread.start()

    # -- the download side -------------------------------------------------------

    def recv_buffer(self) -> memoryview:
        if self._current is None:
            self._current = self._take_buffer()
            self._fill = 0
        return self._views[self._current][self._fill:]

    def commit(self, size: int) -> None:
        self._fill += size
        if self.capacity is not None and self._base + self._fill > self.capacity:
            raise TargetWriteError(f"The image is larger than the target {self.path} "
                                   f"({self.capacity} bytes).")
        if self._fill == self._size:
            self._dispatch()

    def write(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            space = self.recv_buffer()
            count = min(len(space), len(view))
            space[:count] = view[:count]
            view = view[count:]
            self.commit(count)

    def begin(self, total: int | None) -> None:
        if total is not None and self.capacity is not None and total > self.capacity:
            raise TargetWriteError(f"The image ({total} bytes) is larger than the target "
                                   f"{self.path} ({self.capacity} bytes).")

    def restart(self) -> None:
        self._raise_worker_error()
        if self._current is not None:
            self._free.put(self._current)
            self._current = None
        self._fill = 0
        self._base = 0
        self._head_checked = False
        self._hash_queue.put(_RESET)

    def finish(self) -> str:
        """Flush the last buffer, wait for hashing and writing (and fsync when
        durable); returns the hex digest of everything since the last restart."""
        if self._current is not None and self._fill:
            self._dispatch()
        elif self._current is not None:
            self._free.put(self._current)
            self._current = None
        if not self._head_checked and self.check_head and self._base == 0:
            self._head_checked = True  # an empty image: nothing to check
        self._stop(_STOP)
        self._raise_worker_error()
        assert self._digest is not None
        return self._digest

    def abort(self) -> None:
        self._stop(_ABORT)

    # -- internals ---------------------------------------------------------------

    def _take_buffer(self) -> int:
        while True:
            self._raise_worker_error()
            try:
                return self._free.get(timeout=0.5)
            except queue.Empty:
                continue

    def _dispatch(self) -> None:
        self._raise_worker_error()
        assert self._current is not None
        index, length = self._current, self._fill
        if self.check_head and not self._head_checked and self._base == 0:
            head = self._views[index][:min(length, formats.HEAD_BYTES)]
            formats.check_stream_head(bytes(head), self.declared)
            self._head_checked = True
        self._counter.hold(index)
        self.touched = True
        self._hash_queue.put((index, length))
        self._write_queue.put((index, self._base, length))
        self._base += length
        self._current = None
        self._fill = 0

    def _raise_worker_error(self) -> None:
        if self._error is not None:
            error = self._error
            if isinstance(error, TargetWriteError):
                raise error
            raise TargetWriteError(f"Writing to {self.path} failed: {error}") from error

    def _stop(self, marker: str) -> None:
        if not self._threads:
            return
        self._hash_queue.put(marker)
        self._write_queue.put(marker)
        for thread in self._threads[:2]:
            thread.join()
        self._stopping = True
        self._sync_wanted.set()
        for thread in self._threads[2:]:
            thread.join()
        self._threads = []
        for view in self._views:
            view.release()
        for buffer in self._maps:
            # Slices may still be referenced (e.g. from an exception's traceback);
            # the memory is then freed when the last one goes.
            with contextlib.suppress(BufferError):
                buffer.close()

    def _open(self) -> tuple[int | None, int | None]:
        flags = os.O_WRONLY | os.O_CLOEXEC | os.O_CREAT
        try:
            fd = os.open(self.path, flags | os.O_DIRECT, 0o644)
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise TargetWriteError(f"Cannot open {self.path}: {exc}") from exc
            LOG.info("O_DIRECT refused for %s; using buffered writes", self.path)
            try:
                return None, os.open(self.path, flags, 0o644)
            except OSError as exc2:
                raise TargetWriteError(f"Cannot open {self.path}: {exc2}") from exc2
        self.direct_io = True
        return fd, None

    def _plain(self) -> int:
        if self._plain_fd is None:
            with self._fd_lock:
                self._plain_fd = os.open(self.path, os.O_WRONLY | os.O_CLOEXEC)
        return self._plain_fd

    def _pwrite(self, data: memoryview, offset: int) -> None:
        direct = self._direct_fd
        aligned = len(data) - len(data) % ALIGN if direct is not None \
            and offset % ALIGN == 0 else 0
        if direct is not None and aligned:
            try:
                _pwrite_all(direct, data[:aligned], offset)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                LOG.info("O_DIRECT write refused on %s; using buffered writes", self.path)
                with self._fd_lock:
                    os.close(direct)
                    self._direct_fd = None
                self.direct_io = False
                aligned = 0
        if aligned < len(data):  # the unaligned tail, or no O_DIRECT at all
            _pwrite_all(self._plain(), data[aligned:], offset + aligned)

    def _write_loop(self) -> None:
        try:
            while True:
                item = self._write_queue.get()
                if item == _ABORT:
                    return
                if item == _STOP:
                    if self.durable:
                        with self._fd_lock:
                            for fd in (self._direct_fd, self._plain_fd):
                                if fd is not None:
                                    os.fsync(fd)
                    return
                index, offset, length = item
                self._pwrite(self._views[index][:length], offset)
                self._counter.release(index)
                self._unsynced += length
                if self._unsynced >= SYNC_EVERY:
                    self._unsynced = 0
                    self._sync_wanted.set()
        except BaseException as exc:
            self._error = exc
        finally:
            with self._fd_lock:
                for fd in (self._direct_fd, self._plain_fd):
                    if fd is not None:
                        with contextlib.suppress(OSError):
                            os.close(fd)
                self._direct_fd = self._plain_fd = None

    def _sync_loop(self) -> None:
        try:
            while True:
                self._sync_wanted.wait()
                self._sync_wanted.clear()
                if self._stopping:
                    return
                with self._fd_lock:
                    for fd in (self._direct_fd, self._plain_fd):
                        if fd is not None:
                            os.fdatasync(fd)
        except BaseException as exc:
            self._error = exc

    def _hash_loop(self) -> None:
        digest = hashlib.new(self.algorithm)
        try:
            while True:
                item = self._hash_queue.get()
                if item == _ABORT:
                    return
                if item == _STOP:
                    self._digest = digest.hexdigest()
                    return
                if item == _RESET:
                    digest = hashlib.new(self.algorithm)
                    continue
                index, length = item
                digest.update(self._views[index][:length])
                self._counter.release(index)
        except BaseException as exc:
            self._error = exc


def _pwrite_all(fd: int, data: memoryview, offset: int) -> None:
    while data:
        written = os.pwrite(fd, data, offset)
        if written <= 0:
            raise TargetWriteError(f"short write at offset {offset}")
        data = data[written:]
        offset += written


def _default_work_dir(target: TargetInfo) -> str:
    if not target.block_device:
        return os.path.dirname(os.path.abspath(target.path)) or "."
    return "/var/tmp"


def _ensure_room(target: TargetInfo, size: int) -> None:
    """A block device must hold ``size`` bytes; a file target is created or grown."""
    if target.block_device:
        assert target.capacity is not None
        if size > target.capacity:
            raise TargetWriteError(f"The image needs {size} bytes but the target "
                                   f"{target.path} has {target.capacity}.")
        return
    fd = os.open(target.path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        if os.fstat(fd).st_size < size:
            os.ftruncate(fd, size)
    finally:
        os.close(fd)


def _erase_after_failure(target: str, sink: PipelinedSink) -> None:
    if not sink.touched:
        return
    try:
        erase_metadata(target)
        LOG.warning("Erased the metadata of %s so that the partial image cannot boot",
                    target)
    except Exception:
        LOG.exception("Could not erase the metadata of %s after a failed write", target)


def _stream(target: TargetInfo, source: ImageDownload, options: WriteOptions,
            progress: ProgressCallback | None) -> WriteResult:
    started = time.monotonic()
    sink = PipelinedSink(target.path, source.expected.algorithm,
                         declared=source.disk_format, check_head=True,
                         capacity=target.capacity, buffer_bytes=options.buffer_bytes,
                         buffers=options.buffers)
    try:
        result = fetch(source.urls, sink, policy=source.policy, retry=options.retry,
                       timeouts=options.timeouts, headers=source.headers,
                       progress=progress)
        digest = sink.finish()
        source.expected.verify(digest, f"image {result.url}")
    except BaseException:
        sink.abort()
        _erase_after_failure(target.path, sink)
        raise
    return WriteResult(target.path, result.size, "raw", source.expected.algorithm, digest,
                       True, sink.direct_io, time.monotonic() - started, result)


def _cache_and_convert(target: TargetInfo, source: ImageDownload, options: WriteOptions,
                       progress: ProgressCallback | None) -> WriteResult:
    started = time.monotonic()
    work_dir = options.work_dir or _default_work_dir(target)
    fd, temp = tempfile.mkstemp(prefix=".ingot-image-", dir=work_dir)
    os.close(fd)
    try:
        sink = PipelinedSink(temp, source.expected.algorithm, durable=False,
                             buffer_bytes=options.buffer_bytes, buffers=options.buffers)
        try:
            result = fetch(source.urls, sink, policy=source.policy, retry=options.retry,
                           timeouts=options.timeouts, headers=source.headers,
                           progress=progress)
            digest = sink.finish()
        except BaseException:
            sink.abort()
            raise
        source.expected.verify(digest, f"image {result.url}")
        # Everything below runs before the target is touched.
        inspected = formats.inspect_file(temp, source.disk_format,
                                         options.permitted_formats)
        _ensure_room(target, inspected.virtual_size)
        formats.convert_to_raw(temp, inspected.format, target.path,
                               timeout=options.convert_timeout)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
    return WriteResult(target.path, result.size, inspected.detected,
                       source.expected.algorithm, digest, False, False,
                       time.monotonic() - started, result)


def write_image(target: str, source: ImageDownload, options: WriteOptions | None = None,
                progress: ProgressCallback | None = None) -> WriteResult:
    """Download ``source`` onto ``target``; verified and durable when it returns.

    Raises DownloadError/FatalDownloadError (network), ChecksumMismatch (digest),
    ImageFormatError (unsafe or mismatched format) or TargetWriteError.
    """
    options = options or WriteOptions()
    info = describe_target(target)
    if options.stream_raw and source.disk_format in ("raw", "gpt"):
        return _stream(info, source, options, progress)
    return _cache_and_convert(info, source, options, progress)


def erase_metadata(target: str, *, span: int = ERASE_SPAN) -> EraseResult:
    """Zero the first and last ``span`` bytes of ``target`` (partition tables, GPT
    backup header, RAID and file system signatures), fsync, and for block devices ask
    the kernel to re-read the (now empty) partition table."""
    info = describe_target(target)
    size = info.capacity if info.capacity is not None else info.size
    regions = [(0, min(span, size))]
    if size > span:
        tail = max(span, size - span)
        regions.append((tail, size - tail))
    regions = [(offset, length) for offset, length in regions if length > 0]
    zeros = mmap.mmap(-1, max(ALIGN, span))
    try:
        view = memoryview(zeros)
        flags = os.O_WRONLY | os.O_CLOEXEC
        try:
            fd = os.open(target, flags | os.O_DIRECT)
            direct = True
        except OSError:
            fd, direct = os.open(target, flags), False
        try:
            for offset, length in regions:
                if direct and offset % ALIGN == 0 and length % ALIGN == 0:
                    _pwrite_all(fd, view[:length], offset)
                else:
                    plain = os.open(target, flags)
                    try:
                        _pwrite_all(plain, view[:length], offset)
                        os.fsync(plain)
                    finally:
                        os.close(plain)
            os.fsync(fd)
            if info.block_device:
                with contextlib.suppress(OSError):
                    fcntl.ioctl(fd, _BLKRRPART)
        finally:
            os.close(fd)
        view.release()
    finally:
        zeros.close()
    return EraseResult(target, size, tuple(regions))
