"""The secret that temp URLs are signed with: from configuration, or the account's own
Temp-URL-Key metadata read with a HEAD on the account."""

from __future__ import annotations

from ingot.swift.connection import SwiftClient, translated
from ingot.swift.errors import SwiftConfigError
from ingot.swift.locations import Account

# Ironic (openstacksdk) reads Temp-URL-Key-2 first: during a rotation operators set the
# new key there before replacing Temp-URL-Key.
ACCOUNT_KEY_HEADERS = ("x-account-meta-temp-url-key-2", "x-account-meta-temp-url-key")

MISSING_KEY = ("Swift temporary URLs need a secret key: set [glance] swift_temp_url_key, "
               "or set Temp-URL-Key on the Swift account {account} (readable with the "
               "[swift] credentials)")


def account_key(client: SwiftClient, account: Account) -> str | None:
    """The account's Temp-URL-Key-2, else Temp-URL-Key; None if it has neither."""
    connection = client.connection(account.url)
    try:
        with translated(f"reading the temp URL key of Swift account {account.name}"):
            headers = connection.head_account()
    finally:
        connection.close()
    for header in ACCOUNT_KEY_HEADERS:
        if headers.get(header):
            return str(headers[header])
    return None


def temp_url_key(account: Account, *, configured: str | None,
                 client: SwiftClient | None) -> str:
    """``configured`` if set, else the account's key; SwiftConfigError if there is none."""
    if configured:
        return configured
    key = account_key(client, account) if client is not None and client.configured else None
    if not key:
        raise SwiftConfigError(MISSING_KEY.format(account=account.name))
    return key
