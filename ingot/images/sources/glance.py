"""Glance v2 images: a bare UUID, ``glance://<uuid>`` or ``glance://host[:port]/<uuid>``.

A thin keystoneauth1 Adapter (service type ``image``) calls ``GET /v2/images/{id}``:
the session comes from the [glance] keystoneauth1 options (Keystone, or
``auth_type = none`` with ``endpoint_override``), or from a fixed endpoint. The host of a
``glance://host/<uuid>`` reference is not contacted: the configured Glance is, so a value
in a node's instance_info can never make the conductor send its token elsewhere.

Glance's digests (os_hash_algo/os_hash_value, checksum) win over instance_info's; an
image must be ``active``. ``direct_url``/``locations`` (Glance's show_image_direct_url /
show_multiple_locations) tell which store holds the bytes; location URLs may carry Swift
credentials, so only the store kind and container are kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from oslo_config import cfg

from ingot.conf import image_sources as image_sources_conf
from ingot.images.sources.errors import (
    ImageNotAcceptable,
    ImageNotFound,
    ImageReferenceError,
    ImageSourceUnavailable,
)
from ingot.images.sources.instance_info import (
    IMAGE_TYPES,
    check_partition,
    declared_digests,
    image_type,
)
from ingot.images.sources.record import (
    PARTITION,
    Fetched,
    Freshness,
    ImageDigests,
    ImageSource,
    SwiftObjectRef,
)
from ingot.images.sources.streaming import CHUNK, write_chunks
from ingot.images.sources.swift import download as swift_download

# keystoneauth1 and requests (6 MB) are imported by the methods that talk to Glance:
# every conductor loads this module, few use Glance.
if TYPE_CHECKING:
    import requests
    from keystoneauth1 import adapter as ks_adapter

    from ingot.images.sources.access import SourceAccess

SCHEME = KIND = "glance"
SERVICE_TYPE = "image"
GROUP = image_sources_conf.GLANCE
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
NOT_CONFIGURED = ("Glance image references need Glance access: set [glance] auth_type "
                  "(Keystone credentials) or [glance] endpoint_override (with auth_type = "
                  "none for a Glance without Keystone).")


def is_uuid(text: str) -> bool:
    return bool(_UUID.match(text))


def image_id(reference: str) -> str:
    """The image id of a bare UUID or a ``glance://`` reference, lower case (no I/O)."""
    if "://" not in reference and ":" not in reference:
        if not is_uuid(reference):
            raise ImageReferenceError(f"image_source {reference!r} has no scheme and is not "
                                      f"a Glance image UUID.")
        return reference.lower()
    parts = urlsplit(reference)
    if parts.scheme.lower() != SCHEME:
        raise ImageReferenceError(f"not a glance:// reference: {reference!r}")
    if parts.query or parts.fragment:
        raise ImageReferenceError(f"a glance:// reference has no query or fragment: "
                                  f"{reference!r}")
    path = parts.path.strip("/")
    candidate = path or parts.netloc
    if "/" in candidate or not is_uuid(candidate):
        raise ImageReferenceError(f"expected glance://<uuid> or glance://host/<uuid>, got "
                                  f"{reference!r}.")
    return candidate.lower()


def locate(image: Mapping[str, Any], image_id: str, swift_store: str | None = None
           ) -> tuple[str | None, SwiftObjectRef | None]:
    """The kind of store holding the bytes, and the Swift object when it is Swift.

    Glance shows locations only with show_image_direct_url/show_multiple_locations
    (both off by default). Without them, swift_store (why the operator's [glance]
    options say Glance stores images in Swift) makes it Swift, at the object Ironic
    would sign: <swift_container>[_<seed chars>]/<image id>.
    """
    urls = [image.get("direct_url")]
    urls += [location.get("url") for location in image.get("locations") or []
             if isinstance(location, Mapping)]
    kinds = []
    for url in urls:
        if not isinstance(url, str) or "://" not in url:
            continue
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme.startswith("swift"):  # swift, swift+http(s), swift+config
            segments = parts.path.strip("/").split("/")
            container = segments[-2] if len(segments) >= 2 and segments[-1] == image_id \
                else None
            return "swift", SwiftObjectRef(image_id, container, glance_image_id=image_id,
                                           why="Glance shows its location in Swift")
        kinds.append("http" if scheme in ("http", "https") else scheme)
    if not kinds and swift_store:
        return "swift", SwiftObjectRef(image_id, None, glance_image_id=image_id,
                                       why=swift_store)
    return (kinds[0] if kinds else None), None


def swift_store_setting(conf: cfg.ConfigOpts) -> str | None:
    """Why the [glance] options say Glance keeps images in Swift, or None: the operator
    set swift_account or swift_container (Ironic builds the object path from them)."""
    options = [name for name in ("swift_account", "swift_container")
               if _set_by_operator(conf, name)]
    if not options:
        return None
    return f"[glance] {' and '.join(options)} {'is' if len(options) == 1 else 'are'} set"


def _set_by_operator(conf: cfg.ConfigOpts, name: str) -> bool:
    if name == "swift_account":
        return bool(conf[GROUP].swift_account)
    location = conf.get_location(name, GROUP)
    return location is not None and location.location not in (
        cfg.Locations.opt_default, cfg.Locations.set_default)


def _digests(image: Mapping[str, Any]) -> ImageDigests:
    def text(key: str) -> str | None:
        value = image.get(key)
        return value if isinstance(value, str) and value else None

    algo, value = text("os_hash_algo"), text("os_hash_value")
    if not (algo and value):
        algo = value = None
    return ImageDigests(os_hash_algo=algo, os_hash_value=value, checksum=text("checksum"))


def _content_digest(digests: ImageDigests) -> str | None:
    if digests.os_hash_algo and digests.os_hash_value:
        return f"{digests.os_hash_algo}:{digests.os_hash_value}".lower()
    return f"md5:{digests.checksum}".lower() if digests.checksum else None


class GlanceImages:
    """Glance v2 through one keystoneauth1 Adapter (thread-safe; caches the token)."""

    def __init__(self, adapter: ks_adapter.Adapter, swift_store: str | None = None):
        self.adapter = adapter
        self.swift_store = swift_store  # see locate()

    @classmethod
    def at_endpoint(cls, url: str, *, timeout: float = 60.0) -> GlanceImages:
        """A Glance without Keystone at a fixed endpoint (``http://glance:9292``)."""
        from keystoneauth1 import adapter as ks_adapter  # noqa: PLC0415
        from keystoneauth1 import noauth  # noqa: PLC0415
        from keystoneauth1 import session as ks_session  # noqa: PLC0415

        session = ks_session.Session(auth=noauth.NoAuth(), timeout=timeout)
        return cls(ks_adapter.Adapter(session, service_type=SERVICE_TYPE,
                                      endpoint_override=url.rstrip("/"), connect_retries=2))

    @classmethod
    def from_conf(cls, conf: cfg.ConfigOpts) -> GlanceImages:
        """From the [glance] keystoneauth1 options; ImageSourceUnavailable naming the
        options when neither credentials nor an endpoint are set."""
        from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415
        from keystoneauth1 import loading, noauth  # noqa: PLC0415

        image_sources_conf.register_glance_auth(conf)
        options = conf[GROUP]
        if not (options.auth_type or options.endpoint_override):
            raise ImageSourceUnavailable(NOT_CONFIGURED)
        try:
            auth = loading.load_auth_from_conf_options(conf, GROUP)
        except ks_exceptions.ClientException as exc:
            # Names the plugin and its missing options, never their values.
            raise ImageSourceUnavailable(f"invalid [glance] credentials: {exc}") from None
        session = loading.load_session_from_conf_options(conf, GROUP,
                                                         auth=auth or noauth.NoAuth())
        return cls(loading.load_adapter_from_conf_options(
            conf, GROUP, session=session,
            service_type=options.service_type or SERVICE_TYPE),
            swift_store=swift_store_setting(conf))

    def _get(self, path: str, what: str, **kwargs: Any) -> requests.Response:
        from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415

        try:
            response = self.adapter.get(path, raise_exc=False, **kwargs)
        except ks_exceptions.ClientException as exc:
            raise ImageSourceUnavailable(f"{what} failed: {type(exc).__name__}: "
                                         f"{exc}") from None
        status = response.status_code
        if status == 200:
            return response
        response.close()
        if status == 404:
            raise ImageNotFound(f"{what}: no such image in Glance (HTTP 404).")
        if status in (401, 403):
            raise ImageNotAcceptable(f"{what}: Glance refused access (HTTP {status}).")
        if status >= 500:
            raise ImageSourceUnavailable(f"{what}: HTTP {status} from Glance.")
        raise ImageNotAcceptable(f"{what}: HTTP {status} from Glance.")

    def show(self, image_id: str) -> dict[str, Any]:
        """The image's record; ImageNotAcceptable unless it is active."""
        what = f"Glance image {image_id}"
        response = self._get(f"/v2/images/{image_id}", what,
                             headers={"Accept": "application/json"})
        try:
            image = response.json()
        except ValueError:
            raise ImageSourceUnavailable(f"{what}: Glance sent no JSON.") from None
        if not isinstance(image, dict):
            raise ImageSourceUnavailable(f"{what}: Glance sent no JSON object.")
        if image.get("status") != "active":
            raise ImageNotAcceptable(f"{what} is {image.get('status')!r}, not 'active': "
                                     f"it has no data to deploy yet, or no longer.")
        return image

    def data_url(self, image_id: str) -> str | None:
        from keystoneauth1 import exceptions as ks_exceptions  # noqa: PLC0415

        try:
            endpoint = self.adapter.get_endpoint()
        except ks_exceptions.ClientException:
            return None
        return f"{endpoint.rstrip('/')}/v2/images/{image_id}/file" if endpoint else None

    def resolve(self, reference: str, instance_info: Mapping[str, Any], *,
                allow_md5: bool) -> ImageSource:
        uuid = image_id(reference)
        image = self.show(uuid)
        # Ironic's rule: the img_type property, else kernel/ramdisk ids mean partition.
        declared = image.get("img_type")
        partition = declared == PARTITION if declared in IMAGE_TYPES \
            else bool(image.get("kernel_id") or image.get("ramdisk_id"))
        kind = image_type(instance_info, glance_partition=partition)
        if kind == PARTITION:
            check_partition(instance_info, need_kernel=False)
        digests = _digests(image)
        if _content_digest(digests) is None:  # only very old Glances: ask the node
            digests = declared_digests(instance_info, allow_md5=allow_md5)
        size = image.get("size")
        store, swift = locate(image, uuid, self.swift_store)
        updated_at = image.get("updated_at")
        return ImageSource(
            reference=reference, kind=KIND,
            size=size if isinstance(size, int) else None, digests=digests,
            freshness=Freshness(updated_at=updated_at if isinstance(updated_at, str)
                                else None, digest=_content_digest(digests)),
            disk_format=image.get("disk_format"), image_type=kind, immutable=True,
            image_id=uuid, glance_store=store, url=self.data_url(uuid), swift=swift)

    def download(self, source: ImageSource, path: str, algorithm: str) -> Fetched:
        """Stream the image data from Glance's API into ``path``."""
        import requests  # noqa: PLC0415

        assert source.image_id is not None
        what = f"Download of Glance image {source.image_id}"
        response = self._get(f"/v2/images/{source.image_id}/file", what, stream=True)
        try:
            return write_chunks(response.iter_content(CHUNK), path, algorithm=algorithm,
                                expected_size=source.size, what=what)
        except requests.RequestException as exc:
            raise ImageSourceUnavailable(f"{what} failed: {type(exc).__name__}") from None
        finally:
            response.close()


class GlanceScheme:
    """A Glance image (a bare UUID or glance://): Glance's own digests, and its bytes
    straight from Swift when Glance keeps them there and Swift is configured here."""

    kind = KIND

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        image_id(reference)
        if image_type(instance_info) == PARTITION:
            check_partition(instance_info, need_kernel=False)

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: SourceAccess) -> ImageSource:
        return _images(access).resolve(reference, instance_info, allow_md5=access.allow_md5)

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: SourceAccess) -> Fetched:
        if source.swift is not None and access.swift_temp_url is not None:
            return swift_download(source, path, algorithm, temp_url=access.swift_temp_url)
        return _images(access).download(source, path, algorithm)

    def agent_url(self, source: ImageSource, access: SourceAccess) -> str | None:
        if source.swift is None or access.swift_temp_url is None:
            return None  # Glance outside Swift: the conductor serves it
        return access.swift_temp_url(source.swift)


def _images(access: SourceAccess) -> GlanceImages:
    if access.glance_images is None:
        raise ImageSourceUnavailable(NOT_CONFIGURED)
    return access.glance_images


SOURCE = GlanceScheme()
