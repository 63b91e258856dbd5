"""What the conductor calls: temp URLs for Glance images and ``swift://`` objects, and
config drives kept in Swift. Built once per conductor; safe to share between threads."""

from __future__ import annotations

import time

from oslo_config import cfg

from ingot.db.engine import Database
from ingot.images.sources.record import SwiftObjectRef
from ingot.swift import configdrive
from ingot.swift.cache import temp_url_for
from ingot.swift.connection import SwiftClient
from ingot.swift.errors import SwiftConfigError
from ingot.swift.keys import temp_url_key
from ingot.swift.locations import (
    Account,
    ObjectLocation,
    glance_image,
    parse_swift_ref,
    split_endpoint,
)
from ingot.swift.objects import ObjectInfo
from ingot.swift.settings import ConfigDriveSettings, TempURLSettings
from ingot.swift.tempurl import TempURL, sign

MISSING_ENDPOINT = ("Swift temporary URLs need a Swift endpoint: set [glance] "
                    "swift_endpoint_url, or [swift] credentials (auth_type, or "
                    "endpoint_override) to find it with")
MISSING_ACCOUNT = ("Swift temporary URLs need the Swift account of the images: set [glance] "
                   "swift_account, or [swift] credentials to find it with")


class SwiftService:
    """Swift for one conductor: settings read once, one keystoneauth1 session."""

    def __init__(self, conf: cfg.ConfigOpts, db: Database, *,
                 client: SwiftClient | None = None):
        """Raises SwiftConfigError if the [glance] temp URL options contradict each other."""
        self.temp_urls = TempURLSettings.from_conf(conf)
        self.configdrives = ConfigDriveSettings.from_conf(conf)
        self.client = client or SwiftClient(conf)
        self.db = db

    def image_account(self) -> Account:
        """The account images are signed for: [glance] options, else the [swift] account."""
        settings = self.temp_urls
        endpoint, account = None, settings.account
        if settings.endpoint_url:
            endpoint, in_url = split_endpoint(settings.endpoint_url,
                                              prefix=settings.account_prefix,
                                              api_version=settings.api_version)
            account = account or in_url
        if endpoint is None or account is None:
            if not self.client.configured:
                raise SwiftConfigError(MISSING_ENDPOINT if endpoint is None else MISSING_ACCOUNT)
            own = self.client.account(settings.api_version)
            endpoint, account = endpoint or own.endpoint, account or own.name
        return Account(endpoint, account, settings.api_version)

    def glance_image_url(self, image_id: str, *, method: str = "GET",
                         now: float | None = None, valid_for: int | None = None) -> TempURL:
        """Temp URL of a Glance image stored by Glance's Swift store (container per
        [glance] swift_container and swift_store_multiple_containers_seed)."""
        settings = self.temp_urls
        location = glance_image(self.image_account(), image_id, container=settings.container,
                                seed=settings.containers_seed)
        return self.temp_url(location, method=method, now=now, valid_for=valid_for)

    def swift_ref_url(self, ref: str, *, method: str = "GET", now: float | None = None,
                      valid_for: int | None = None) -> TempURL:
        """Temp URL of ``swift://container/object`` in the images' account."""
        container, name = parse_swift_ref(ref)
        return self.temp_url(self.image_account().object(container, name), method=method,
                             now=now, valid_for=valid_for)

    def object_url(self, ref: SwiftObjectRef, *, valid_for: int | None = None) -> TempURL:
        """Temp URL of a resolved image in Swift: a Glance image or a swift:// object."""
        if ref.glance_image_id:
            return self.glance_image_url(ref.glance_image_id, valid_for=valid_for)
        if ref.reference is None:
            # The sources build a ref with a container or a Glance image id, never neither.
            raise ValueError(f"Swift object {ref.name} has neither container nor image id")
        return self.swift_ref_url(ref.reference, valid_for=valid_for)

    def temp_url(self, location: ObjectLocation, *, method: str = "GET",
                 now: float | None = None, valid_for: int | None = None) -> TempURL:
        """A temp URL for any object: shared through the cache when it is enabled.

        ``valid_for``: seconds the URL must stay usable from now, beyond the configured
        start delay (a boot config a machine may retry until the deploy callback times
        out); a cached URL is reused only if it still has that long plus the margin.
        """
        settings = self.temp_urls
        key = self._key_for(location.account)
        start_delay = max(settings.start_delay, valid_for or 0)
        # settings.lifetime already covers the configured start delay; a caller's
        # longer need (valid_for) raises it for that URL.
        lifetime = max(settings.lifetime, start_delay + 2 * settings.reuse_margin)
        if settings.cache_enabled:
            return temp_url_for(self.db, location, key=key, lifetime=lifetime,
                                start_delay=start_delay, margin=settings.reuse_margin,
                                method=method, digest=settings.digest, now=now)
        expires_at = int(time.time() if now is None else now) + lifetime
        return sign(location, key=key, expires_at=expires_at, method=method,
                    digest=settings.digest)

    def store_configdrive(self, node_uuid: str, data: str | bytes, ttl: int | None = None, *,
                          now: float | None = None) -> TempURL:
        """Put the node's config drive in Swift for ``ttl`` seconds (default [conductor]
        configdrive_swift_temp_url_duration) and return a temp URL valid as long."""
        account = self.client.account(self.temp_urls.api_version)
        return configdrive.store_configdrive(
            self.client, account, node_uuid, data, container=self.configdrives.container,
            ttl=ttl or self.configdrives.ttl, key=self._key_for(account),
            digest=self.temp_urls.digest, now=now)

    def delete_configdrive(self, node_uuid: str) -> bool:
        """Delete the node's config drive from Swift; False if it was already gone."""
        return configdrive.delete_configdrive(
            self.client, self.client.account(self.temp_urls.api_version), node_uuid,
            container=self.configdrives.container)

    def configdrive_info(self, node_uuid: str) -> ObjectInfo | None:
        return configdrive.configdrive_info(
            self.client, self.client.account(self.temp_urls.api_version), node_uuid,
            container=self.configdrives.container)

    def _key_for(self, account: Account) -> str:
        # [glance] swift_temp_url_key is the images' account key; any other account (the
        # config drives' one, if different) signs with its own Temp-URL-Key.
        configured = self.temp_urls.key
        if configured and self._image_account_or_none() != account:
            configured = None
        return temp_url_key(account, configured=configured, client=self.client)

    def _image_account_or_none(self) -> Account | None:
        try:
            return self.image_account()
        except SwiftConfigError:
            return None
