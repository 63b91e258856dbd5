"""The ``standby`` commands: prepare_image, get_partition_uuids, sync, power_off and
run_image (reboot, as Ironic's agent power interface asks)."""

from __future__ import annotations

import base64
import dataclasses
import functools
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from ingot.agent import download, partition_image, writer
from ingot.agent.commands import CommandContext, CommandError, CommandRunner, InvalidCommandParams
from ingot.common.redaction import redact_url
from ingot.configdrive import MAX_DOWNLOAD_SIZE
from ingot.configdrive.check import check as check_configdrive
from ingot.configdrive.check import is_url
from ingot.configdrive.errors import ConfigDriveFetchError, ConfigDriveRejected
from ingot.configdrive.partition import write_config_drive
from ingot.images import checksum, formats
from ingot.images.partition_layout import LayoutError, PartitionSpec
from ingot.images.proxies import InvalidProxySetting, ProxyPolicy

LOG = logging.getLogger(__name__)

# Our exceptions as IPA's error types, so Ironic-style conductors read them as usual.
_ERROR_TYPES: tuple[tuple[type[BaseException], str, str], ...] = (
    (download.DownloadError, "ImageDownloadError", "Error downloading image"),
    (checksum.ChecksumMismatch, "ImageChecksumError", "Error verifying image checksum"),
    (checksum.ChecksumError, "ImageChecksumError", "Error verifying image checksum"),
    (formats.ImageFormatError, "InvalidImage", "The provided image is not valid for use"),
    (writer.TargetWriteError, "ImageWriteError", "Error writing image to device"),
    (partition_image.PartitionImageError, "ImageWriteError", "Error writing image to device"),
    (InvalidProxySetting, "InvalidCommandParamsError", "Invalid command parameters"),
)


def as_command_error(exc: BaseException) -> CommandError:
    for kind, type_name, message in _ERROR_TYPES:
        if isinstance(exc, kind):
            return CommandError(str(exc), type_name=type_name, message=message)
    if isinstance(exc, CommandError):
        return exc
    return CommandError(str(exc) or type(exc).__name__)


@dataclasses.dataclass(frozen=True)
class DownloadSettings:
    retry: download.RetryPolicy = dataclasses.field(default_factory=download.RetryPolicy)
    timeouts: download.Timeouts = dataclasses.field(default_factory=download.Timeouts)
    work_dir: str | None = None
    permitted_formats: tuple[str, ...] = formats.DEFAULT_PERMITTED
    allow_md5: bool = False


def disk_identifier(target: str) -> str | None:
    """The MBR disk signature as IPA reports it for whole-disk images ("0x1234abcd")."""
    try:
        with open(target, "rb") as f:
            f.seek(440)
            raw = f.read(4)
    except OSError:
        return None
    return f"0x{int.from_bytes(raw, 'little'):08x}" if len(raw) == 4 else None


def _auth_headers(image_info: Mapping[str, Any]) -> dict[str, str]:
    """IPA's ways of authenticating to the image server, in its order of precedence."""
    supplied = image_info.get("image_request_authorization")
    if supplied:
        return {"Authorization": base64.b64decode(supplied).decode()}
    if image_info.get("image_server_auth_strategy") == "http_basic":
        user = image_info.get("image_server_user")
        password = image_info.get("image_server_password")
        if not user or not password:
            raise InvalidCommandParams("image_server_user and image_server_password are "
                                       "required for http_basic image server auth.")
        token = base64.b64encode(f"{user}:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}
    return {}


def validate_prepare_image(params: Mapping[str, Any], *, allow_md5: bool) -> None:
    unknown = set(params) - {"image_info", "configdrive"}
    if unknown:
        raise InvalidCommandParams(f"Unexpected parameter(s): {', '.join(sorted(unknown))}")
    info = params.get("image_info")
    if not isinstance(info, Mapping):
        raise InvalidCommandParams("image_info must be an object.")
    if not isinstance(info.get("id"), str) or not info["id"]:
        raise InvalidCommandParams("image_info is missing a non-empty id.")
    urls = info.get("urls")
    if not isinstance(urls, list) or not urls or not all(
            isinstance(url, str) and urlsplit(url).scheme in ("http", "https")
            for url in urls):
        raise InvalidCommandParams("image_info urls must be a non-empty list of http(s) "
                                   "URLs.")
    if info.get("image_type") == "partition":
        try:
            PartitionSpec.from_image_info(info)
        except LayoutError as exc:
            raise InvalidCommandParams(f"image_info {exc}") from None
    disk_format = info.get("disk_format")
    if disk_format is not None and not isinstance(disk_format, str):
        raise InvalidCommandParams("image_info disk_format must be a string.")
    for key in ("checksum", "os_hash_algo", "os_hash_value"):
        if key in info and info[key] is not None and not isinstance(info[key], str):
            raise InvalidCommandParams(f"image_info {key} must be a string.")
    try:
        ProxyPolicy.from_image_info(info)
        checksum.require_checksum_fields(info, allow_md5=allow_md5)
    except (InvalidProxySetting, checksum.ChecksumError) as exc:
        raise InvalidCommandParams(str(exc)) from exc
    configdrive = params.get("configdrive", info.get("configdrive"))
    if configdrive is not None and not isinstance(configdrive, str):
        raise InvalidCommandParams("configdrive must be a string (URL or gzipped base64).")


def configdrive_fetcher(policy: ProxyPolicy, settings: DownloadSettings, *,
                        limit: int = MAX_DOWNLOAD_SIZE) -> Callable[[str], bytes]:
    """How the agent downloads a config drive given as a URL: as it downloads images
    (the same retries, the node's proxy for each URL and redirect), at most ``limit``
    bytes, in memory."""

    def fetch(url: str) -> bytes:
        try:
            return download.fetch_bytes(url, limit=limit, policy=policy,
                                        retry=settings.retry, timeouts=settings.timeouts)
        except download.DownloadError as exc:
            shown, message = redact_url(url), str(exc)
            where = "" if shown in message else f" ({shown})"
            raise ConfigDriveFetchError(f"configdrive download failed: {message}{where}"
                                        ) from None

    return fetch


class Standby:
    """Writes images onto ``target``; remembers what it wrote."""

    def __init__(self, target: str, settings: DownloadSettings,
                 stop_agent: Callable[[bool], None]):
        self.target = target
        self.settings = settings
        self.stop_agent = stop_agent
        self.partition_uuids: dict[str, Any] | None = None

    def register(self, runner: CommandRunner) -> None:
        runner.register("standby.prepare_image", self.prepare_image, asynchronous=True,
                        validator=functools.partial(validate_prepare_image,
                                                    allow_md5=self.settings.allow_md5))
        runner.register("standby.get_partition_uuids", self.get_partition_uuids,
                        asynchronous=False)
        runner.register("standby.sync", self.sync, asynchronous=False)
        runner.register("standby.power_off", self.power_off, asynchronous=True)
        runner.register("standby.run_image", self.run_image, asynchronous=True)

    def prepare_image(self, context: CommandContext, image_info: dict[str, Any],
                      configdrive: str | None = None) -> str:
        info = dict(image_info)
        embedded = info.pop("configdrive", None)  # Ironic sends the drive here too
        if configdrive is None:
            configdrive = embedded
        if configdrive and not is_url(configdrive):
            # Checked before the image is written: a bad drive leaves the target as is.
            try:
                check_configdrive(configdrive)
            except ConfigDriveRejected as exc:
                raise CommandError(f"Invalid config drive: {exc.message}",
                                   type_name="DeploymentError",
                                   message="Failed to deploy instance") from exc
        partition = None
        try:
            if info.get("image_type") == "partition":
                partition = partition_image.deploy(
                    self.target, PartitionSpec.from_image_info(info),
                    functools.partial(self._write, context, info))
                result = partition.write
            else:
                result = self._write(context, info, self.target)
            if configdrive:
                context.report({**_final_progress(result), "stage": "config drive"})
                try:
                    write_config_drive(self.target, configdrive, fetch=configdrive_fetcher(
                        _policy(info), self.settings))
                except Exception as exc:
                    raise CommandError(f"Writing the config drive failed: {exc}",
                                       type_name="DeploymentError",
                                       message="Failed to deploy instance") from exc
        except Exception as exc:
            error = as_command_error(exc)
            context.report({"stage": "failed", "error": error.details[:500]})
            raise error from exc
        context.report({**_final_progress(result), "stage": "done"})
        if partition is not None:
            root_uuid: str | None = partition.root_uuid
            self.partition_uuids = {"root uuid": root_uuid,
                                    "efi system partition uuid": partition.efi_uuid,
                                    "partitions": partition.partitions}
        else:
            root_uuid = disk_identifier(self.target)
            self.partition_uuids = {"root uuid": root_uuid}
        return f"image ({info['id']}) written to device {self.target} root_uuid={root_uuid}"

    def _write(self, context: CommandContext, info: dict[str, Any], target: str
               ) -> writer.WriteResult:
        """The image onto ``target``: the disk, or a partition image's root partition."""
        policy = _policy(info)
        settings = self.settings
        headers = _auth_headers(info)
        fetch_text = functools.partial(download.fetch_text, policy=policy,
                                       retry=settings.retry, timeouts=settings.timeouts,
                                       headers=headers)
        expected = checksum.expected_digest(info, allow_md5=settings.allow_md5,
                                            fetch_text=fetch_text)
        disk_format = info.get("disk_format") or None
        source = writer.ImageDownload(tuple(info["urls"]), expected, disk_format, policy,
                                    headers)
        options = writer.WriteOptions(
            stream_raw=bool(info.get("stream_raw_images", False)),
            work_dir=settings.work_dir, permitted_formats=settings.permitted_formats,
            retry=settings.retry, timeouts=settings.timeouts)
        LOG.info("Writing image %s from %s onto %s (%s, %s)", info["id"],
                 ", ".join(redact_url(url) for url in info["urls"]), target,
                 disk_format or "format to detect",
                 "streamed" if options.stream_raw and disk_format == "raw" else "cached")
        started = time.monotonic()

        def progress(update: download.Progress) -> None:
            context.report({"stage": "download", **update.as_dict()})

        context.report({"stage": "download", "bytes_done": 0, "bytes_total": None,
                        "bytes_per_second": 0, "percent": None})
        result = writer.write_image(target, source, options, progress)
        LOG.info("Image %s verified (%s) and written to %s: %d bytes in %.1f s", info["id"],
                 result.algorithm, target, result.image_bytes,
                 time.monotonic() - started)
        return result

    def get_partition_uuids(self, context: CommandContext) -> dict[str, Any]:
        return self.partition_uuids or {}

    def sync(self, context: CommandContext) -> None:
        os.sync()

    def power_off(self, context: CommandContext) -> None:
        os.sync()
        self.stop_agent(False)

    def run_image(self, context: CommandContext) -> None:
        """Reboot into what was written: the agent ends asking its machine to reboot."""
        os.sync()
        self.stop_agent(True)


def _policy(info: Mapping[str, Any]) -> ProxyPolicy:
    return ProxyPolicy.from_image_info(info)


def _final_progress(result: writer.WriteResult) -> dict[str, Any]:
    seconds = max(result.seconds, 1e-6)
    return {"bytes_done": result.image_bytes, "bytes_total": result.image_bytes,
            "bytes_per_second": round(result.image_bytes / seconds), "percent": 100.0,
            "digest_verified": True, "direct_io": result.direct_io}
