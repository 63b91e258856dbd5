"""Why an image reference cannot be used. The API maps ``ImageReferenceError`` and
``ImageNotAcceptable`` to 400; ``ImageSourceUnavailable`` is a temporary failure."""

from __future__ import annotations


class ImageSourceError(Exception):
    """Base class; the message is fit for the API and a node's last_error."""


class ImageReferenceError(ImageSourceError, ValueError):
    """The reference itself is unusable: unknown scheme, malformed, or a forbidden path."""


class MissingImageInfo(ImageReferenceError):
    """instance_info lacks a field Glance would have given; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class ImageNotAcceptable(ImageSourceError):
    """The image exists but cannot be deployed (not active, no size, partition image...)."""


class ImageNotFound(ImageNotAcceptable):
    """Nothing is at the reference (Glance 404, HTTP 404, no such file)."""


class ImageSourceUnavailable(ImageSourceError):
    """The source could not be asked (connection error, 5xx): worth retrying later."""
