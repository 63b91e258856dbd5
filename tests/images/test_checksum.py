"""Expected digests from image_info: os_hash_*, checksum, checksum files, md5 policy."""

from __future__ import annotations

import hashlib
import re

import pytest

from ingot.agent.download import fetch_text
from ingot.images.checksum import (
    ChecksumError,
    ChecksumMismatch,
    expected_digest,
    parse_checksum_file,
)
from tests.servers.origin import running_origin

DATA = b"image bytes\n" * 1000
SHA256 = hashlib.sha256(DATA).hexdigest()
SHA512 = hashlib.sha512(DATA).hexdigest()
MD5 = hashlib.md5(DATA).hexdigest()
URL = "http://images.example/path/disk+v1.0.img?sig=x"


def test_os_hash_pair_wins_and_comparison_ignores_case() -> None:
    expected = expected_digest({"urls": [URL], "os_hash_algo": "SHA512",
                                "os_hash_value": SHA512.upper(), "checksum": MD5})
    assert (expected.algorithm, expected.value) == ("sha512", SHA512)
    assert expected.matches(SHA512.upper())
    expected.verify(SHA512, "image")
    with pytest.raises(ChecksumMismatch, match="Checksum mismatch for image"):
        expected.verify(SHA256 * 2, "image")


@pytest.mark.parametrize(("checksum", "algorithm"), [
    (SHA256, "sha256"), (SHA512, "sha512"), (SHA256.upper(), "sha256"),
    (f"sha256:{SHA256}", "sha256"), (f"sha512:{SHA512}", "sha512"),
])
def test_checksum_algorithm_follows_from_length_or_prefix(checksum: str,
                                                           algorithm: str) -> None:
    expected = expected_digest({"urls": [URL], "checksum": checksum})
    assert expected.algorithm == algorithm
    assert expected.value == checksum.split(":")[-1].lower()


def test_md5_is_refused_unless_allowed() -> None:
    with pytest.raises(ChecksumError, match="MD5"):
        expected_digest({"urls": [URL], "checksum": MD5})
    with pytest.raises(ChecksumError, match="MD5"):
        expected_digest({"urls": [URL], "os_hash_algo": "md5", "os_hash_value": MD5})
    allowed = expected_digest({"urls": [URL], "checksum": MD5.upper()}, allow_md5=True)
    assert (allowed.algorithm, allowed.value) == ("md5", MD5)


@pytest.mark.parametrize(("info", "message"), [
    ({}, "not available"),
    ({"os_hash_algo": "sha256"}, "both be non-empty"),
    ({"os_hash_algo": "sha256", "os_hash_value": SHA512}, "has 128 hex digits"),
    ({"os_hash_algo": "whirlpool9", "os_hash_value": SHA256}, "Unsupported"),
    ({"checksum": "abc"}, "Cannot tell the algorithm"),
    ({"checksum": "z" * 64}, "not hexadecimal"),
])
def test_unusable_checksums_are_explained(info: dict[str, str], message: str) -> None:
    with pytest.raises(ChecksumError, match=message):
        expected_digest({"urls": [URL], **info})


def test_checksum_file_formats() -> None:
    assert parse_checksum_file(f"{SHA256}\n", URL) == (None, SHA256)
    gnu = f"{SHA512}  other.img\n{SHA256} *disk+v1.0.img\n"
    assert parse_checksum_file(gnu, URL) == (None, SHA256)
    bsd = f"# comment\nSHA256 (other.img) = {SHA512}\nSHA256 (./disk+v1.0.img) = {SHA256}\n"
    assert parse_checksum_file(bsd, URL) == ("SHA256", SHA256)
    # "+" and "." are regex metacharacters: the name must match literally.
    tricky = f"{SHA512}  diskxv1a0.img\n"
    with pytest.raises(ChecksumError, match=re.escape("no entry for 'disk+v1.0.img'")):
        parse_checksum_file(tricky, URL)


def test_checksum_files_are_fetched_over_http() -> None:
    with running_origin() as origin:
        sums = origin.add("/SHA256SUMS", f"{SHA512}  a.img\n{SHA256.upper()}  disk.img\n"
                          .encode())
        bare = origin.add("/disk.img.sha512", f"{SHA512}\n".encode())
        image = f"{origin.url}/images/disk.img"
        from_checksum = expected_digest({"urls": [image], "checksum": sums},
                                        fetch_text=fetch_text)
        assert (from_checksum.algorithm, from_checksum.value) == ("sha256", SHA256)
        assert from_checksum.source == f"checksum file {sums}"
        from_hash_value = expected_digest({"urls": [image], "os_hash_algo": "sha512",
                                           "os_hash_value": bare}, fetch_text=fetch_text)
        assert from_hash_value.value == SHA512
        with pytest.raises(ChecksumError, match="HTTP 404"):
            expected_digest({"urls": [image], "checksum": f"{origin.url}/missing"},
                            fetch_text=fetch_text)
        assert len(origin.hits_for("/missing")) == 1
