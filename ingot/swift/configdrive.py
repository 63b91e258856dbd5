"""Config drives in Swift: ``configdrive-<node uuid>`` with X-Delete-After, handed to the
agent as a temporary URL that expires with the object; deleted when the deploy ends."""

from __future__ import annotations

import time

from ingot.swift import objects
from ingot.swift.connection import SwiftClient
from ingot.swift.locations import Account
from ingot.swift.tempurl import DEFAULT_DIGEST, TempURL, sign


def object_name(node_uuid: str) -> str:
    return f"configdrive-{node_uuid}"


def store_configdrive(client: SwiftClient, account: Account, node_uuid: str,
                      configdrive: str | bytes, *, container: str, ttl: int, key: str,
                      digest: str = DEFAULT_DIGEST, now: float | None = None) -> TempURL:
    """Upload the drive (the gzip+base64 string, or ISO/gzip bytes: the agent takes all
    three) replacing any earlier one, and return a GET temp URL valid for ``ttl`` s.

    Swift deletes the object ``ttl`` seconds after the upload, which is after the URL
    expires, since the expiry is counted from before the upload.
    """
    if isinstance(configdrive, str) and "://" in configdrive:
        raise ValueError("configdrive is a URL already; only drive contents are stored")
    data = configdrive.encode() if isinstance(configdrive, str) else configdrive
    expires_at = int(time.time() if now is None else now) + ttl
    name = object_name(node_uuid)
    connection = client.connection(account.url)
    try:
        objects.upload(connection, container, name, data, delete_after=ttl)
    finally:
        connection.close()
    return sign(account.object(container, name), key=key, expires_at=expires_at,
                method="GET", digest=digest)


def delete_configdrive(client: SwiftClient, account: Account, node_uuid: str, *,
                       container: str) -> bool:
    """Delete the node's drive; False if it was already gone (e.g. expired)."""
    connection = client.connection(account.url)
    try:
        return objects.delete(connection, container, object_name(node_uuid))
    finally:
        connection.close()


def configdrive_info(client: SwiftClient, account: Account, node_uuid: str, *,
                     container: str) -> objects.ObjectInfo | None:
    """Size and expiry of the node's stored drive; None if there is none."""
    connection = client.connection(account.url)
    try:
        return objects.head(connection, container, object_name(node_uuid))
    finally:
        connection.close()
