"""Glance image references resolved against a real Glance (no Keystone)."""

from __future__ import annotations

import hashlib
import pathlib
import secrets
import uuid

import pytest
from oslo_config import cfg

from ingot import conf as ingot_conf
from ingot.images.cache import ImageCache
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageNotAcceptable, ImageNotFound, MissingImageInfo
from ingot.images.sources.glance import GlanceImages, image_id, locate
from tests.servers.glance import GlanceServer, UploadedImage


@pytest.fixture(scope="module")
def image(glance: GlanceServer) -> tuple[UploadedImage, bytes]:
    data = secrets.token_bytes(300 * 1024 + 7)
    return glance.upload(data, name="resolve-me"), data


@pytest.fixture
def access(glance: GlanceServer) -> dispatch.SourceAccess:
    return dispatch.SourceAccess(glance_images=GlanceImages.at_endpoint(glance.url))


def test_bare_uuid_resolves_with_glance_digests(
        image: tuple[UploadedImage, bytes], access: dispatch.SourceAccess) -> None:
    uploaded, data = image
    source = dispatch.resolve(uploaded.id, {}, access)
    assert source.kind == "glance"
    assert source.image_id == uploaded.id
    assert source.size == len(data)
    assert source.digests.os_hash_algo == "sha512"
    assert source.digests.os_hash_value == hashlib.sha512(data).hexdigest()
    assert source.digests.checksum == hashlib.md5(data).hexdigest()
    assert source.disk_format == "raw"
    assert source.immutable
    assert source.glance_store == "file"  # direct_url is file:// in the fs store
    assert source.swift is None
    assert source.freshness.updated_at == uploaded.record["updated_at"]
    assert source.freshness.digest == f"sha512:{hashlib.sha512(data).hexdigest()}"
    assert access.glance_images is not None
    assert source.url == f"{access.glance_images.adapter.endpoint_override}" \
                         f"/v2/images/{uploaded.id}/file"
    assert source.expected_digest(allow_md5=False).algorithm == "sha512"


@pytest.mark.parametrize("form", ["glance://{id}", "glance://{host}/{id}",
                                  "glance:///{id}", "GLANCE://{ID}"])
def test_glance_url_forms_resolve_to_the_same_image(
        form: str, image: tuple[UploadedImage, bytes], glance: GlanceServer,
        access: dispatch.SourceAccess) -> None:
    uploaded, _ = image
    reference = form.format(id=uploaded.id, ID=uploaded.id.upper(),
                            host=f"127.0.0.1:{glance.port}")
    source = dispatch.resolve(reference, {}, access)
    assert source.reference == reference  # kept as the operator wrote it
    assert source.image_id == uploaded.id
    assert source.cache_key == uploaded.id
    assert source.digests.os_hash_value == uploaded.os_hash_value


def test_glance_digests_win_over_instance_info(
        image: tuple[UploadedImage, bytes], access: dispatch.SourceAccess) -> None:
    uploaded, _ = image
    other = hashlib.sha256(b"something else").hexdigest()
    source = dispatch.resolve(uploaded.id, {"image_checksum": other,
                                            "image_os_hash_algo": "sha256",
                                            "image_os_hash_value": other}, access)
    assert source.digests.os_hash_algo == "sha512"
    assert source.digests.os_hash_value == uploaded.os_hash_value
    assert source.digests.checksum == uploaded.checksum


def test_glance_access_from_configuration(image: tuple[UploadedImage, bytes],
                                          glance: GlanceServer,
                                          tmp_path: pathlib.Path) -> None:
    path = tmp_path / "ingot.conf"
    path.write_text(f"[glance]\nauth_type = none\nendpoint_override = {glance.url}\n")
    conf = cfg.ConfigOpts()
    for module in ingot_conf.modules():
        module.register(conf)
    conf(args=[], project="ingot", default_config_files=[str(path)], default_config_dirs=[])
    source = GlanceImages.from_conf(conf).resolve(f"glance://{image[0].id}", {},
                                                  allow_md5=False)
    assert source.size == image[0].size


def test_image_that_is_not_active_is_refused(glance: GlanceServer,
                                             access: dispatch.SourceAccess) -> None:
    queued = glance.create_image(name="no-data-yet")
    with pytest.raises(ImageNotAcceptable, match=r"'queued', not 'active'"):
        dispatch.resolve(queued, {}, access)


def test_unknown_image_is_not_found(access: dispatch.SourceAccess) -> None:
    with pytest.raises(ImageNotFound, match="404"):
        dispatch.resolve(str(uuid.uuid4()), {}, access)


def test_glance_partition_image_names_what_is_missing(
        glance: GlanceServer, access: dispatch.SourceAccess) -> None:
    kernel = glance.upload(b"kernel", name="kernel", disk_format="aki")
    ramdisk = glance.upload(b"ramdisk", name="ramdisk", disk_format="ari")
    partition = glance.upload(b"\0" * 4096, name="partition", kernel_id=kernel.id,
                              ramdisk_id=ramdisk.id)
    with pytest.raises(MissingImageInfo, match="root_gb") as missing:
        dispatch.resolve(partition.id, {}, access)
    assert missing.value.field == "root_gb"
    # Glance's kernel_id/ramdisk_id make it a partition image.
    assert dispatch.resolve(partition.id, {"root_gb": 10}, access).image_type == "partition"


def test_glance_image_is_fetched_once_into_the_cache(
        glance: GlanceServer, access: dispatch.SourceAccess, cache: ImageCache,
        tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(2 << 20)
    uploaded = glance.upload(data, name="cache-me")
    source = dispatch.resolve(f"glance://{uploaded.id}", {}, access)
    expected = source.expected_digest(allow_md5=False)
    first = cache.fetch(source, dispatch.fetcher(source, access), expected,
                        str(tmp_path / "node-1"))
    second = cache.fetch(dispatch.resolve(uploaded.id, {}, access),
                         dispatch.fetcher(source, access), expected,
                         str(tmp_path / "node-2"))
    assert (first.hit, first.fetch_method, second.hit) == (False, "download", True)
    assert (tmp_path / "node-1").read_bytes() == data
    assert (tmp_path / "node-2").stat().st_ino == (tmp_path / "node-1").stat().st_ino
    assert glance.data_requests(uploaded.id) == 1
    assert first.entry.digests["sha512"] == uploaded.os_hash_value


def test_locations_tell_a_glance_image_in_swift() -> None:
    image_id = str(uuid.uuid4())
    record = {"direct_url": f"swift+https://user:secret@keystone/v3/glance_{image_id[:8]}/"
                            f"{image_id}",
              "locations": [{"url": "file:///var/lib/glance/images/x", "metadata": {}}]}
    store, swift = locate(record, image_id)
    assert store == "swift"
    assert swift is not None
    assert (swift.container, swift.name, swift.glance_image_id) == (
        f"glance_{image_id[:8]}", image_id, image_id)
    assert "secret" not in repr(swift)  # location credentials are not kept
    assert locate({"locations": [{"url": "rbd://fsid/images/x/snap"}]}, image_id) == (
        "rbd", None)


@pytest.mark.parametrize("reference", ["glance://", "glance://host/a/b",
                                       "glance://not-a-uuid", "glance://x?y=1"])
def test_malformed_glance_references_are_refused(reference: str) -> None:
    with pytest.raises(ValueError, match="glance"):
        image_id(reference)
