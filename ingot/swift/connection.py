"""swiftclient Connections from the [swift] keystoneauth1 options.

One keystoneauth1 session per SwiftClient (thread-safe, caches the token); a new
swiftclient Connection per operation, since a Connection holds one HTTP connection and
must not be shared between the conductor's threads.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

import requests
from keystoneauth1 import exceptions as ks_exceptions
from keystoneauth1 import loading, noauth
from keystoneauth1 import session as ks_session
from oslo_config import cfg
from swiftclient import client as swift_client
from swiftclient.exceptions import ClientException

from ingot.conf import swift as swift_conf
from ingot.swift.errors import SwiftConfigError, SwiftOperationError
from ingot.swift.locations import Account, account_from_storage_url

SERVICE_TYPE = "object-store"

# swiftclient logs up to 16 characters of tokens and Temp-URL-Keys at debug level (half
# of a short key); show none. This is the library's own, process-wide, setting.
swift_client.logger_settings["reveal_sensitive_prefix"] = 0


class SwiftClient:
    """Talks to Swift with the [swift] credentials of ``conf``."""

    def __init__(self, conf: cfg.ConfigOpts):
        swift_conf.register_auth(conf)
        self._options = conf.swift
        self._conf = conf
        self._session: ks_session.Session | None = None
        self._lock = threading.Lock()

    @property
    def configured(self) -> bool:
        """True if [swift] names credentials or an endpoint to talk to."""
        return bool(self._options.auth_type or self._options.endpoint_override)

    def session(self) -> ks_session.Session:
        with self._lock:
            if self._session is None:
                self._session = self._load_session()
            return self._session

    def storage_url(self) -> str:
        """The storage URL (``.../v1/<account>``) of the [swift] credentials."""
        if self._options.endpoint_override:
            return str(self._options.endpoint_override)
        session = self.session()
        try:
            url = session.get_endpoint(service_type=self._service_type(),
                                       interface=self._interface(),
                                       region_name=self._options.region_name)
        except ks_exceptions.ClientException as exc:
            raise SwiftOperationError(f"cannot find the Swift endpoint with the [swift] "
                                      f"credentials: {type(exc).__name__}") from None
        if not url:
            raise SwiftConfigError("the [swift] credentials give no object-store endpoint; "
                                   "set [swift] endpoint_override")
        return str(url)

    def account(self, api_version: str = "v1") -> Account:
        return account_from_storage_url(self.storage_url(), api_version=api_version)

    def connection(self, storage_url: str | None = None) -> swift_client.Connection:
        """A new Connection, to ``storage_url`` (another account) if given."""
        os_options: dict[str, Any] = {"service_type": self._service_type(),
                                      "endpoint_type": self._interface(),
                                      "region_name": self._options.region_name}
        url = storage_url or self._options.endpoint_override
        if url:
            os_options["object_storage_url"] = url
        return swift_client.Connection(session=self.session(), os_options=os_options,
                                       retries=self._options.swift_max_retries,
                                       starting_backoff=0.5, max_backoff=4,
                                       timeout=self._options.timeout)

    def _load_session(self) -> ks_session.Session:
        if not self.configured:
            raise SwiftConfigError("Swift access is not configured: set [swift] auth_type "
                                   "(e.g. password, v1password or none) or [swift] "
                                   "endpoint_override")
        try:
            auth = loading.load_auth_from_conf_options(self._conf, swift_conf.GROUP)
        except ks_exceptions.ClientException as exc:
            # The message names the plugin and its missing options, never their values.
            raise SwiftConfigError(f"invalid [swift] credentials: {exc}") from None
        if auth is None:
            auth = noauth.NoAuth()
        return loading.load_session_from_conf_options(self._conf, swift_conf.GROUP,
                                                      auth=auth)

    def _service_type(self) -> str:
        return str(self._options.service_type or SERVICE_TYPE)

    def _interface(self) -> str:
        interfaces = self._options.valid_interfaces or [self._options.interface or "public"]
        return str(interfaces[0])


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn swiftclient, keystoneauth1 and network errors into SwiftOperationError.

    Messages carry the action, status and exception type; none of these libraries puts
    a token or key in them.
    """
    try:
        yield
    except ClientException as exc:
        status = exc.http_status
        detail = f"{status} {exc.http_reason}".strip() if status else str(exc)
        raise SwiftOperationError(f"{action} failed: {detail}", status) from None
    except ks_exceptions.ClientException as exc:
        raise SwiftOperationError(f"{action} failed: cannot authenticate with the [swift] "
                                  f"credentials: {type(exc).__name__}: {exc}") from None
    except (requests.RequestException, OSError) as exc:
        raise SwiftOperationError(f"{action} failed: {type(exc).__name__}: {exc}") from None
