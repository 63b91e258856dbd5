"""What the API checks up front in a string config drive, and the status it answers."""

from __future__ import annotations

import base64
import gzip
import io
import os
import tracemalloc
import zlib

import pycdlib
import pytest

from ingot.configdrive.check import (
    ConfigDriveImage,
    ConfigDriveTooLarge,
    ConfigDriveURL,
    InvalidJSONDrive,
    InvalidURL,
    NotBase64,
    NotGzip,
    NotISO,
    WrongLabel,
    check,
    check_json,
)
from ingot.configdrive.errors import ConfigDriveRejected
from tests.configdrive.conftest import Drive

MiB = 1024 * 1024


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def iso_labelled(label: str) -> bytes:
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, vol_ident=label)
    iso.add_fp(io.BytesIO(b"{}"), 2, "/META.JSN;1")
    out = io.BytesIO()
    iso.write_fp(out)
    iso.close()
    return out.getvalue()


def test_good_drive(drive: Drive) -> None:
    result = check(drive.encoded)
    assert isinstance(result, ConfigDriveImage)
    assert (result.size, result.label, result.gzipped) == (len(drive.iso), "config-2", True)
    assert result.compressed_size == len(base64.b64decode(drive.encoded))
    assert result.iso() == drive.iso
    # The repr is safe to log: no drive contents.
    assert "payload" not in repr(result)


def test_base64_with_line_breaks_and_spaces(drive: Drive) -> None:
    wrapped = base64.encodebytes(gzip.compress(drive.iso)).decode()
    assert "\n" in wrapped
    result = check(f"  {wrapped}\r\n\t")
    assert isinstance(result, ConfigDriveImage)
    assert result.iso() == drive.iso


def test_raw_iso_after_base64(drive: Drive) -> None:
    result = check(b64(drive.iso))
    assert isinstance(result, ConfigDriveImage)
    assert (result.gzipped, result.size, result.iso()) == (False, len(drive.iso), drive.iso)


def test_upper_case_label_accepted() -> None:
    result = check(b64(gzip.compress(iso_labelled("CONFIG-2"))))
    assert isinstance(result, ConfigDriveImage)
    assert result.label == "CONFIG-2"


def test_several_gzip_members(drive: Drive) -> None:
    half = len(drive.iso) // 2
    data = gzip.compress(drive.iso[:half]) + gzip.compress(drive.iso[half:])
    result = check(b64(data))
    assert isinstance(result, ConfigDriveImage)
    assert result.iso() == drive.iso


@pytest.mark.parametrize("url", [
    "http://example.com/configdrive",
    "https://swift.example.com/v1/AUTH_x/c/configdrive-node?temp_url_sig=ab&temp_url_expires=9",
    " https://[2001:db8::1]:8080/cd \n",
])
def test_urls_pass_through(url: str) -> None:
    assert check(url) == ConfigDriveURL(url.strip())


@pytest.mark.parametrize(("url", "message"), [
    ("ftp://example.com/cd", "configdrive URL must use http or https, not 'ftp'"),
    ("file:///etc/shadow", "configdrive URL must use http or https, not 'file'"),
    ("http:///nohost", "configdrive URL has no host"),
    ("http://example.com/a b", "configdrive URL contains whitespace"),
])
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(InvalidURL) as raised:
        check(url)
    assert (raised.value.status, raised.value.message) == (400, message)


@pytest.mark.parametrize(("configdrive", "message"), [
    ("not base64!", "configdrive is neither a URL nor base64: Only base64 data is allowed"),
    ("abcde", "configdrive is neither a URL nor base64: Invalid base64-encoded string"),
    ("YQ==YQ==", "configdrive is neither a URL nor base64: Excess data after padding"),
    ("h\u00e9llo", "configdrive is neither a URL nor base64: it has non-ASCII characters"),
])
def test_not_base64(configdrive: str, message: str) -> None:
    with pytest.raises(NotBase64) as raised:
        check(configdrive)
    assert raised.value.status == 400
    assert raised.value.message.startswith(message)


def test_not_gzip() -> None:
    with pytest.raises(NotGzip) as raised:
        check(b64(b"just some text, not compressed"))
    assert raised.value.status == 400
    assert raised.value.message == \
        "configdrive is neither gzip-compressed data nor an ISO 9660 image"


def test_corrupt_gzip(drive: Drive) -> None:
    data = bytearray(gzip.compress(drive.iso))
    data[len(data) // 2] ^= 0xFF
    with pytest.raises(NotGzip, match="configdrive gzip data is corrupt") as raised:
        check(b64(bytes(data)))
    assert raised.value.status == 400


def test_truncated_gzip(drive: Drive) -> None:
    data = gzip.compress(drive.iso)
    with pytest.raises(NotGzip, match="configdrive gzip data is truncated"):
        check(b64(data[:-100]))


def test_trailing_garbage_after_gzip(drive: Drive) -> None:
    with pytest.raises(NotGzip, match="trailing data"):
        check(b64(gzip.compress(drive.iso) + b"garbage"))


def test_not_iso() -> None:
    with pytest.raises(NotISO) as raised:
        check(b64(gzip.compress(os.urandom(100 * 1024))))
    assert raised.value.status == 400
    assert raised.value.message == ("configdrive is not an ISO 9660 image: no primary "
                                    "volume descriptor at byte 32768")


def test_truncated_iso(drive: Drive) -> None:
    with pytest.raises(NotISO, match="configdrive ISO 9660 image is truncated"):
        check(b64(gzip.compress(drive.iso[:-20 * 2048])))


def test_wrong_label() -> None:
    with pytest.raises(WrongLabel) as raised:
        check(b64(gzip.compress(iso_labelled("CIDATA"))))
    assert raised.value.status == 400
    assert raised.value.message == \
        "configdrive ISO 9660 volume label is 'CIDATA', expected 'config-2'"


def test_too_big_compressed(drive: Drive) -> None:
    with pytest.raises(ConfigDriveTooLarge) as raised:
        check(drive.encoded, max_compressed_size=16 * 1024)
    assert raised.value.status == 413
    assert "configdrive is too large" in raised.value.message
    assert "at most 16384 bytes" in raised.value.message


def test_too_big_decompressed(drive: Drive) -> None:
    with pytest.raises(ConfigDriveTooLarge) as raised:
        check(drive.encoded, max_size=len(drive.iso) - 1)
    assert raised.value.status == 413
    assert raised.value.message.startswith("configdrive is larger than")


def test_raw_iso_too_big(drive: Drive) -> None:
    with pytest.raises(ConfigDriveTooLarge):
        check(b64(drive.iso), max_size=len(drive.iso) - 1)


def gzip_bomb(size: int) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    parts = [compressor.compress(zeros) for _ in range(size // MiB)]
    return b"".join(parts) + compressor.flush()


def test_gzip_bomb_stops_at_the_limit_in_little_memory() -> None:
    bomb = b64(gzip_bomb(128 * MiB))
    assert len(bomb) < MiB // 2  # 128 MiB of zeros in under half a MiB of base64
    tracemalloc.start()
    try:
        with pytest.raises(ConfigDriveTooLarge, match="larger than 64 MiB once decompressed"):
            check(bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Decompressing would need 128 MiB; the check keeps one chunk and the ISO header.
    assert peak < 8 * MiB


def test_every_rejection_carries_its_status() -> None:
    for error in (NotBase64, NotGzip, NotISO, WrongLabel, InvalidURL, InvalidJSONDrive):
        assert issubclass(error, ConfigDriveRejected)
        assert error.status == 400
    assert issubclass(ConfigDriveTooLarge, ConfigDriveRejected)
    assert ConfigDriveTooLarge.status == 413


def test_json_form_accepted() -> None:
    check_json({"meta_data": {"a": 1}, "network_data": {"links": []}, "user_data": "x",
                "vendor_data": {"v": 1}})
    check_json({"user_data": ["list"], "meta_data": None})
    check_json({})


@pytest.mark.parametrize(("configdrive", "vendor_data", "message"), [
    ({"metadata": {}}, True, "configdrive has an unknown key 'metadata'"),
    ({"vendor_data": {}}, False, "configdrive has an unknown key 'vendor_data'"),
    ({"meta_data": "x"}, True, "configdrive meta_data must be an object"),
    ({"user_data": 1}, True, "configdrive user_data must be an object, an array or a string"),
])
def test_json_form_refused(configdrive: dict[str, object], vendor_data: bool,
                           message: str) -> None:
    with pytest.raises(InvalidJSONDrive) as raised:
        check_json(configdrive, vendor_data=vendor_data)
    assert raised.value.status == 400
    assert raised.value.message.startswith(message)
