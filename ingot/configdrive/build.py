"""Building a config drive ISO from its JSON form, in-process with pycdlib.

The layout is the OpenStack one cloud-init and cloudbase-init read:
``openstack/{latest,2012-08-10}/meta_data.json``, ``network_data.json``,
``vendor_data2.json`` and ``user_data``. Both directories matter: cloud-init reads
the newest version directory it knows (``2012-08-10`` here), not ``latest``, and reads
every file from that one directory, ``vendor_data2.json`` included.

The ISO has Rock Ridge and Joliet names (how Linux and Windows see the files), and at
interchange level 4 its plain ISO 9660 names are the real lower-case names
(``/openstack/latest/meta_data.json;1``) as genisoimage writes them for Ironic. The
second directory's files are hard links to the first's: one copy of user_data on the
disk, not two. Identical input gives identical bytes (fixed timestamps, gzip mtime 0).
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import gzip
import importlib
import io
import json
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from time import struct_time
from typing import Any

from ingot.configdrive import LABEL, MAX_SIZE
from ingot.configdrive.check import decode_image
from ingot.configdrive.errors import ConfigDriveTooLarge, InvalidJSONDrive

UserData = Mapping[str, Any] | Sequence[Any] | str | bytes | None

VERSIONS = ("latest", "2012-08-10")

# Every timestamp in the ISO: the date of the oldest metadata version, in UTC.
TIMESTAMP = float(calendar.timegm((2012, 8, 10, 0, 0, 0)))

_FILE_MODE = 0o100444  # regular file, read-only: cloud-init only reads
_PUBLISHER = "ingot"


def build_iso(*, meta_data: Mapping[str, Any] | None, user_data: UserData,
              network_data: Mapping[str, Any] | None, vendor_data: Mapping[str, Any] | None,
              node_uuid: str, node_name: str | None,
              max_size: int | None = MAX_SIZE) -> bytes:
    """The ISO 9660 image of a config drive, labelled ``config-2``.

    ``meta_data`` gets ``uuid`` and ``name`` from the node unless it has them (a copy is
    changed, never the caller's dict). ``user_data``: a dict or list is JSON-dumped, a str
    UTF-8 encoded, bytes written as they are; empty or None writes no file, as do empty
    network_data and vendor_data (as openstacksdk does). Raises ConfigDriveTooLarge if the
    image exceeds ``max_size``, the most the agent will write.
    """
    files = _files(meta_data, user_data, network_data, vendor_data, node_uuid, node_name)
    iso = _master(files)
    if max_size is not None and len(iso) > max_size:
        raise ConfigDriveTooLarge(f"configdrive built from JSON is {len(iso)} bytes, more "
                                  f"than the {max_size // (1024 * 1024)} MiB limit")
    return iso


def encode(iso: bytes) -> str:
    """gzip then base64: the string a client puts in ``configdrive`` (mtime 0: stable)."""
    return base64.b64encode(gzip.compress(iso, compresslevel=6, mtime=0)).decode("ascii")


def decode(configdrive: str | bytes, *, max_size: int = MAX_SIZE) -> bytes:
    """The ISO in a base64 (gzip or raw) drive, checked; ConfigDriveRejected if not one."""
    return decode_image(configdrive, max_size=max_size)


def _files(meta_data: Mapping[str, Any] | None, user_data: UserData,
           network_data: Mapping[str, Any] | None, vendor_data: Mapping[str, Any] | None,
           node_uuid: str, node_name: str | None) -> dict[str, bytes]:
    """File name -> contents of one version directory."""
    if meta_data is not None and not isinstance(meta_data, Mapping):
        raise InvalidJSONDrive("configdrive meta_data must be an object")
    meta = dict(meta_data or {})
    meta.setdefault("uuid", node_uuid)
    if node_name is not None:
        meta.setdefault("name", node_name)
    files = {"meta_data.json": _json(meta)}
    for name, value, key in (("network_data.json", network_data, "network_data"),
                             ("vendor_data2.json", vendor_data, "vendor_data")):
        if value is not None and not isinstance(value, Mapping):
            raise InvalidJSONDrive(f"configdrive {key} must be an object")
        if value:
            files[name] = _json(value)
    user = _user_data(user_data)
    if user:
        files["user_data"] = user
    return files


def _user_data(user_data: UserData) -> bytes:
    if user_data is None:
        return b""
    if isinstance(user_data, bytes):
        return user_data
    if isinstance(user_data, str):
        return user_data.encode("utf-8")
    if isinstance(user_data, Mapping | Sequence):
        return _json(user_data)
    raise InvalidJSONDrive("configdrive user_data must be an object, an array or a string")


def _json(value: Any) -> bytes:
    try:
        return json.dumps(value).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise InvalidJSONDrive(f"configdrive data cannot be written as JSON: {exc}") from None


def _master(files: dict[str, bytes]) -> bytes:
    import pycdlib  # noqa: PLC0415 - 2 MB that a service without config drives does without

    iso = pycdlib.PyCdlib()
    with _fixed_clock():
        iso.new(interchange_level=4, vol_ident=LABEL, pub_ident_str=_PUBLISHER,
                joliet=3, rock_ridge="1.09")
        iso.add_directory("/openstack", rr_name="openstack", joliet_path="/openstack")
        for version in VERSIONS:
            path = f"/openstack/{version}"
            iso.add_directory(path, rr_name=version, joliet_path=path)
        first, *others = VERSIONS
        for name, data in sorted(files.items()):
            path = f"/openstack/{first}/{name}"
            # pycdlib reads the file objects when writing, so they live until then.
            iso.add_fp(io.BytesIO(data), len(data), iso_path=f"{path};1", rr_name=name,
                       joliet_path=path, file_mode=_FILE_MODE)
            for version in others:
                link = f"/openstack/{version}/{name}"
                iso.add_hard_link(iso_old_path=f"{path};1", iso_new_path=f"{link};1",
                                  rr_name=name)
                iso.add_hard_link(iso_old_path=f"{path};1", joliet_new_path=link)
        out = io.BytesIO()
        iso.write_fp(out)
    iso.close()
    return out.getvalue()


class _Clock:
    """Stands in for the time module inside pycdlib: a fixed instant, in UTC.

    pycdlib stamps every record with time.time() in local time; these two calls are all
    it asks of the clock, the rest (strftime, ...) is the real module.
    """

    def time(self) -> float:
        return TIMESTAMP

    def localtime(self, seconds: float | None = None) -> struct_time:
        return time.gmtime(TIMESTAMP if seconds is None else seconds)

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


# pycdlib has no parameter for its timestamps, so its modules that read the clock get
# _Clock while a drive is mastered; the lock keeps concurrent builds from restoring the
# real clock under each other's feet.
_CLOCK_MODULES = ("pycdlib.pycdlib", "pycdlib.headervd", "pycdlib.dates")
_clock_lock = threading.Lock()


@contextlib.contextmanager
def _fixed_clock() -> Iterator[None]:
    modules = [importlib.import_module(name) for name in _CLOCK_MODULES]
    with _clock_lock:
        patched = [module for module in modules if hasattr(module, "time")]
        saved = [module.time for module in patched]
        for module in patched:
            module.time = _Clock()  # type: ignore[attr-defined]
        try:
            yield
        finally:
            for module, original in zip(patched, saved, strict=True):
                module.time = original  # type: ignore[attr-defined]
