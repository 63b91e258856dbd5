"""Choosing the image source by scheme, and the up-front checks of the API's validate
(no server: these refuse before any I/O)."""

from __future__ import annotations

import hashlib
import pathlib
import uuid
from collections.abc import Mapping
from typing import Any

import pytest

from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageReferenceError, MissingImageInfo
from ingot.images.sources.record import Fetched, Freshness, ImageDigests, ImageSource

SHA256 = {"image_checksum": hashlib.sha256(b"x").hexdigest()}


# Fixed UUIDs: parallel workers must collect the same test ids.
@pytest.mark.parametrize(("reference", "kind"), [
    ("896da87d-15fd-4892-8e81-85a25801890a", "glance"),
    ("A754D923-6ED6-4893-9440-DAD45E5A00DD", "glance"),
    ("glance://a2d4583d-90b1-40a5-a9f1-7deec3a85bf4", "glance"),
    ("glance://glance.example.com:9292/1d864693-5270-4b71-b169-881bb7573711", "glance"),
    ("http://images.example.com/disk.qcow2", "http"),
    ("HTTPS://images.example.com/disk.raw", "http"),
    ("file:///var/lib/ingot/images/disk.raw", "file"),
    ("swift://images/disks/disk.raw", "swift"),
])
def test_scheme_picks_the_source(reference: str, kind: str) -> None:
    assert dispatch.check_reference(reference, SHA256, allow_md5=False) is kind


@pytest.mark.parametrize(("reference", "message"), [
    ("ftp://example.com/disk.img", "protocol 'ftp' of image_source is not supported"),
    ("oci://quay.io/org/image:tag", "protocol 'oci'"),
    ("nfs://server/export/disk", "protocol 'nfs'"),
    ("disk.img", "no scheme and is not a Glance image UUID"),
    ("12345", "no scheme"),
    ("", "missing or empty"),
    (" http://example.com/x", "whitespace"),
    ("http:///no-host", "with a host"),
    ("swift://container", "swift://<container>/<object>"),
    ("glance://not-a-uuid", "glance://<uuid>"),
])
def test_unusable_references_are_refused_with_a_reason(reference: str, message: str) -> None:
    with pytest.raises(ImageReferenceError, match=message):
        dispatch.check_reference(reference, SHA256, allow_md5=False)


def test_non_string_reference_is_refused() -> None:
    with pytest.raises(ImageReferenceError, match="missing or empty"):
        dispatch.check_reference(None, SHA256, allow_md5=False)


@pytest.mark.parametrize(("instance_info", "field"), [
    ({"kernel": "http://x/k"}, "ramdisk"),
    ({"kernel": "http://x/k", "ramdisk": "http://x/r"}, "root_gb"),
    ({"image_type": "partition"}, "kernel"),
])
def test_partition_images_name_the_first_missing_field(instance_info: dict[str, Any],
                                                       field: str) -> None:
    with pytest.raises(MissingImageInfo, match=field) as missing:
        dispatch.check_reference("http://example.com/p.img", {**SHA256, **instance_info},
                                 allow_md5=False)
    assert missing.value.field == field


def test_complete_partition_image_is_accepted() -> None:
    info = {**SHA256, "kernel": "http://x/k", "ramdisk": "http://x/r", "root_gb": 10}
    dispatch.check_reference("http://example.com/p.img", info, allow_md5=False)
    with pytest.raises(ImageReferenceError, match="root_gb must be a positive integer"):
        dispatch.check_reference("http://example.com/p.img", {**info, "root_gb": "0"},
                                 allow_md5=False)


def test_image_type_must_be_known() -> None:
    with pytest.raises(ImageReferenceError, match="image_type 'iso'"):
        dispatch.check_reference("http://example.com/p.img", {**SHA256, "image_type": "iso"},
                                 allow_md5=False)


def test_md5_is_refused_unless_allowed() -> None:
    md5 = {"image_checksum": hashlib.md5(b"x").hexdigest()}
    with pytest.raises(ImageReferenceError, match="MD5"):
        dispatch.check_reference("http://example.com/d.img", md5, allow_md5=False)
    assert dispatch.check_reference("http://example.com/d.img", md5,
                                    allow_md5=True) == "http"


def test_checksum_url_is_accepted_without_fetching() -> None:
    info = {"image_checksum": "http://127.0.0.1:9/SHA256SUMS"}  # nothing listens there
    assert dispatch.check_reference("http://example.com/d.img", info,
                                    allow_md5=False) == "http"


def test_glance_references_need_no_instance_info() -> None:
    assert dispatch.check_reference(str(uuid.uuid4()), {}, allow_md5=False) \
        == "glance"


def test_glance_without_glance_access_is_a_clear_error() -> None:
    with pytest.raises(Exception, match=r"\[glance\] auth_type"):
        dispatch.resolve(str(uuid.uuid4()), {}, dispatch.SourceAccess())


def test_file_without_file_access_is_refused() -> None:
    with pytest.raises(ImageReferenceError, match="not enabled"):
        dispatch.resolve("file:///var/lib/ingot/images/x.img", SHA256,
                         dispatch.SourceAccess())


def test_swift_reference_without_swift_keeps_the_object() -> None:
    source: ImageSource = dispatch.resolve("swift://images/dir/disk%20one.raw", SHA256,
                                           dispatch.SourceAccess())
    assert source.swift is not None
    assert (source.swift.container, source.swift.name) == ("images", "dir/disk one.raw")
    assert source.size is None


class _DataScheme:
    """A made-up data: scheme, to show what a new kind of reference takes."""

    kind = "data"

    def check(self, reference: str, instance_info: Mapping[str, Any], *,
              allow_md5: bool) -> None:
        if "," not in reference:
            raise ImageReferenceError("a data: image_source needs a comma")

    def resolve(self, reference: str, instance_info: Mapping[str, Any],
                access: dispatch.SourceAccess) -> ImageSource:
        payload = reference.partition(",")[2].encode()
        return ImageSource(reference=reference, kind=self.kind, size=len(payload),
                           digests=ImageDigests(), freshness=Freshness())

    def fetch(self, source: ImageSource, path: str, algorithm: str,
              access: dispatch.SourceAccess) -> Fetched:
        data = source.reference.partition(",")[2].encode()
        pathlib.Path(path).write_bytes(data)
        return Fetched("download", len(data))

    def agent_url(self, source: ImageSource, access: dispatch.SourceAccess) -> str | None:
        return None


def test_a_new_scheme_is_one_object_and_one_line(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: pathlib.Path) -> None:
    monkeypatch.setitem(dispatch.SCHEMES, "data", _DataScheme())
    access = dispatch.SourceAccess()
    assert dispatch.check_reference("data:,hello", {}, allow_md5=False) == "data"
    with pytest.raises(ImageReferenceError, match="needs a comma"):
        dispatch.check_reference("data:hello", {}, allow_md5=False)
    source = dispatch.resolve("data:,hello", {}, access)
    assert (source.kind, source.size) == ("data", 5)
    assert dispatch.agent_url(source, access) is None  # the conductor serves it
    fetched = dispatch.fetcher(source, access)(str(tmp_path / "image"), "sha256")
    assert (tmp_path / "image").read_bytes() == b"hello" and fetched.size == 5
