"""Objects in Swift through python-swiftclient: upload with expiry, HEAD, delete."""

from __future__ import annotations

import dataclasses

from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from ingot.swift.connection import translated

OCTET_STREAM = "application/octet-stream"


@dataclasses.dataclass(frozen=True, slots=True)
class ObjectInfo:
    size: int
    etag: str | None
    content_type: str | None
    delete_at: int | None  # Unix time Swift deletes the object at, from X-Delete-At


def upload(connection: swift_client.Connection, container: str, name: str, data: bytes, *,
           delete_after: int | None = None, content_type: str = OCTET_STREAM) -> str:
    """PUT ``data``, creating the container if it is missing; returns the ETag.

    ``delete_after``: seconds after which Swift deletes the object (X-Delete-After).
    """
    headers = {"X-Delete-After": str(delete_after)} if delete_after is not None else {}
    with translated(f"Swift upload of {container}/{name}"):
        try:
            etag = connection.put_object(container, name, data, content_type=content_type,
                                         headers=headers)
        except ClientException as exc:
            if exc.http_status != 404:
                raise
            # No container yet: create it once, rather than a PUT before every upload.
            connection.put_container(container)
            etag = connection.put_object(container, name, data, content_type=content_type,
                                         headers=headers)
    return str(etag)


def head(connection: swift_client.Connection, container: str, name: str) -> ObjectInfo | None:
    """The object's size, ETag, type and expiry; None if it does not exist."""
    with translated(f"Swift HEAD of {container}/{name}"):
        try:
            headers = connection.head_object(container, name)
        except ClientException as exc:
            if exc.http_status == 404:
                return None
            raise
    delete_at = headers.get("x-delete-at")
    return ObjectInfo(size=int(headers.get("content-length", 0)), etag=headers.get("etag"),
                      content_type=headers.get("content-type"),
                      delete_at=int(delete_at) if delete_at else None)


def delete(connection: swift_client.Connection, container: str, name: str) -> bool:
    """Delete the object; False if it was already gone (expired, or never stored)."""
    with translated(f"Swift delete of {container}/{name}"):
        try:
            connection.delete_object(container, name)
        except ClientException as exc:
            if exc.http_status == 404:
                return False
            raise
    return True
