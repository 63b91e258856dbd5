"""Writing a stream of image bytes into a new file while hashing it."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable

from ingot.images.sources.errors import ImageSourceUnavailable
from ingot.images.sources.record import Fetched, Freshness

CHUNK = 1 << 20


def write_chunks(chunks: Iterable[bytes], path: str, *, algorithm: str,
                 expected_size: int | None, what: str, method: str = "download",
                 freshness: Freshness | None = None) -> Fetched:
    """Write ``chunks`` to ``path`` (created, must not exist) hashing with ``algorithm``.

    A body longer or shorter than ``expected_size`` raises ImageSourceUnavailable: a
    truncated transfer must never look like an image.
    """
    hasher = hashlib.new(algorithm)
    size = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "wb") as out:
        for chunk in chunks:
            size += len(chunk)
            if expected_size is not None and size > expected_size:
                raise ImageSourceUnavailable(f"{what} sent more than the {expected_size} "
                                             f"bytes it announced.")
            out.write(chunk)
            hasher.update(chunk)
    if expected_size is not None and size != expected_size:
        raise ImageSourceUnavailable(f"{what} ended after {size} of {expected_size} bytes.")
    return Fetched(method, size, {hasher.name: hasher.hexdigest()}, freshness)
