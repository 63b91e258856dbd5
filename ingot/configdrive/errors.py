"""What can go wrong with a config drive, and the HTTP status the API answers for it.

Messages never quote the drive's contents (they hold user secrets); they name
``configdrive`` so the client knows which field of its request is at fault.
"""

from __future__ import annotations


class ConfigDriveError(Exception):
    """Base class of every config drive error."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class ConfigDriveRejected(ConfigDriveError):
    """The client sent a drive that cannot be used; ``status`` is the HTTP answer."""

    status = 400


class InvalidConfigDrive(ConfigDriveRejected):
    status = 400


class NotBase64(InvalidConfigDrive):
    """Neither a URL nor strict base64."""


class InvalidURL(InvalidConfigDrive):
    """A URL, but not one the agent can download (only http and https)."""


class NotGzip(InvalidConfigDrive):
    """Base64, but neither gzip nor a raw ISO 9660 image; or corrupt gzip."""


class NotISO(InvalidConfigDrive):
    """Decompresses, but not to an ISO 9660 image (or a truncated one)."""


class WrongLabel(InvalidConfigDrive):
    """An ISO 9660 image whose volume label is not ``config-2``."""


class InvalidJSONDrive(InvalidConfigDrive):
    """The JSON form has unknown keys or values of the wrong type."""


class ConfigDriveTooLarge(ConfigDriveRejected):
    """Bigger than allowed, compressed or decompressed."""

    status = 413


class ConfigDriveFetchError(ConfigDriveError):
    """The agent could not download the drive from its URL."""


class ConfigDrivePartitionError(ConfigDriveError):
    """The agent could not make or find a partition for the drive on the disk."""
