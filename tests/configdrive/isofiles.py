"""Reading a config drive ISO back with pycdlib, as a test would look at what cloud-init sees."""

from __future__ import annotations

import io
from typing import Literal

import pycdlib

Namespace = Literal["rr", "joliet", "iso"]


def read_file(iso: bytes, path: str, namespace: Namespace = "rr") -> bytes:
    """The contents of ``path`` (``/openstack/latest/user_data``) in one name space."""
    reader = _open(iso)
    out = io.BytesIO()
    if namespace == "iso":
        reader.get_file_from_iso_fp(out, iso_path=f"{path};1")
    else:
        reader.get_file_from_iso_fp(out, **{f"{namespace}_path": path})
    reader.close()
    return out.getvalue()


def names(iso: bytes, directory: str, namespace: Namespace) -> set[str]:
    """The names in ``directory`` as Rock Ridge, Joliet or plain ISO 9660 show them."""
    reader = _open(iso)
    found = set()
    for record in reader.list_children(**{f"{namespace}_path": directory}):
        if record.is_dot() or record.is_dotdot():
            continue
        if namespace == "rr":
            found.add(record.rock_ridge.name().decode())
        elif namespace == "joliet":
            found.add(record.file_identifier().decode("utf-16-be"))
        else:
            found.add(record.file_identifier().decode())
    reader.close()
    return found


def label(iso: bytes) -> str:
    """The volume identifier of the primary volume descriptor (Ecma-119 8.4.6)."""
    return iso[32768 + 40:32768 + 72].decode("ascii").rstrip()


def _open(iso: bytes) -> pycdlib.PyCdlib:
    reader = pycdlib.PyCdlib()
    reader.open_fp(io.BytesIO(iso))
    return reader
