"""file:// image sources: confinement to the allowed directories (symbolic links
included), hard links into the cache, and copies across filesystems."""

from __future__ import annotations

import hashlib
import os
import pathlib
import secrets

import pytest

from ingot.images.cache import ImageCache
from ingot.images.sources import dispatch
from ingot.images.sources.errors import ImageNotFound, ImageReferenceError, MissingImageInfo
from ingot.images.sources.file import FileAccess, opened
from tests.images.sources.mounts import other_filesystem


def _info(data: bytes) -> dict[str, str]:
    return {"image_checksum": hashlib.sha256(data).hexdigest()}


def _untouched_file(path: pathlib.Path, data: bytes) -> pathlib.Path:
    """A file whose atime is the epoch: any read would move it (relatime updates an
    atime older than a day), so it proves nothing read the file."""
    path.write_bytes(data)
    os.utime(path, (0, path.stat().st_mtime))
    return path


def _atime(path: pathlib.Path) -> float:
    return path.stat().st_atime


def _cache_is_empty(cache: ImageCache) -> bool:
    return [name for name in os.listdir(cache.root) if not name.endswith(".lock")] == []


def test_file_is_hard_linked_into_the_cache(allowed_dir: pathlib.Path,
                                            file_access: FileAccess, cache: ImageCache,
                                            tmp_path: pathlib.Path) -> None:
    data = secrets.token_bytes(200_000)
    image = allowed_dir / "disk.img"
    image.write_bytes(data)
    access = dispatch.SourceAccess(file_access=file_access)
    source = dispatch.resolve(image.as_uri(), _info(data), access)
    assert (source.kind, source.path, source.size) == ("file", str(image), len(data))
    placed = cache.fetch(source, dispatch.fetcher(source, access),
                         source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert (placed.hit, placed.fetch_method, placed.method) == (False, "hardlink", "hardlink")
    master = pathlib.Path(cache.data_path(source.cache_key))
    assert master.stat().st_ino == image.stat().st_ino == (tmp_path / "node").stat().st_ino
    again = cache.fetch(dispatch.resolve(image.as_uri(), _info(data), access),
                        dispatch.fetcher(source, access),
                        source.expected_digest(allow_md5=False), str(tmp_path / "node2"))
    assert again.hit


def test_localhost_form_and_escapes_are_accepted(allowed_dir: pathlib.Path,
                                                 file_access: FileAccess) -> None:
    (allowed_dir / "my disk.img").write_bytes(b"abc")
    source = dispatch.resolve(f"file://localhost{allowed_dir}/my%20disk.img", _info(b"abc"),
                              dispatch.SourceAccess(file_access=file_access))
    assert source.path == str(allowed_dir / "my disk.img")


def test_file_is_copied_across_filesystems(tmp_path: pathlib.Path, cache: ImageCache) -> None:
    data = secrets.token_bytes(300_000)
    with other_filesystem(tmp_path) as elsewhere:
        image = elsewhere / "disk.img"
        image.write_bytes(data)
        access = dispatch.SourceAccess(file_access=FileAccess((str(elsewhere),)))
        source = dispatch.resolve(image.as_uri(), _info(data), access)
        placed = cache.fetch(source, dispatch.fetcher(source, access),
                             source.expected_digest(allow_md5=False), str(tmp_path / "node"))
        assert placed.fetch_method == "copy"
        assert (tmp_path / "node").read_bytes() == data
        assert (tmp_path / "node").stat().st_dev != image.stat().st_dev


def test_symlink_out_of_the_allowed_paths_is_refused_unread(
        allowed_dir: pathlib.Path, file_access: FileAccess, cache: ImageCache,
        tmp_path: pathlib.Path) -> None:
    secret = _untouched_file(tmp_path / "secret.img", b"not for nodes")
    (allowed_dir / "innocent.img").symlink_to(secret)
    access = dispatch.SourceAccess(file_access=file_access)
    with pytest.raises(ImageReferenceError, match=r"not .*under .*file_url_allowed_paths"):
        dispatch.resolve((allowed_dir / "innocent.img").as_uri(), _info(b"not for nodes"),
                         access)
    assert _atime(secret) == 0
    assert _cache_is_empty(cache)


def test_symlink_to_etc_shadow_is_refused(allowed_dir: pathlib.Path,
                                          file_access: FileAccess) -> None:
    (allowed_dir / "shadow.img").symlink_to("/etc/shadow")
    with pytest.raises(ImageReferenceError, match="symbolic link to a path under /etc") as err:
        dispatch.resolve((allowed_dir / "shadow.img").as_uri(), _info(b""),
                         dispatch.SourceAccess(file_access=file_access))
    assert "shadow" not in str(err.value).split("/etc")[-1]  # the target is not revealed


@pytest.mark.parametrize("allowed", ["/", "/etc"])
def test_etc_shadow_is_refused_even_if_allowed(allowed: str, cache: ImageCache,
                                               tmp_path: pathlib.Path) -> None:
    access = dispatch.SourceAccess(file_access=FileAccess((allowed,)))
    with pytest.raises(ImageReferenceError, match="/etc/shadow is under /etc"):
        dispatch.resolve("file:///etc/shadow", _info(b""), access)
    with pytest.raises(ImageReferenceError, match="under /etc"):
        dispatch.resolve("file:///var/../etc/./shadow", _info(b""), access)
    assert _cache_is_empty(cache)


def test_symlink_swapped_in_after_resolving_is_not_followed(
        allowed_dir: pathlib.Path, file_access: FileAccess, cache: ImageCache,
        tmp_path: pathlib.Path) -> None:
    data = b"the real image"
    (allowed_dir / "sub").mkdir()
    image = allowed_dir / "sub" / "disk.img"
    image.write_bytes(data)
    access = dispatch.SourceAccess(file_access=file_access)
    source = dispatch.resolve(image.as_uri(), _info(data), access)
    # Between validation and fetch, the file becomes a link to a file outside.
    secret = _untouched_file(tmp_path / "outside.img", data)
    image.unlink()
    image.symlink_to(secret)
    with pytest.raises(ImageReferenceError, match="Security"):
        cache.fetch(source, dispatch.fetcher(source, access),
                    source.expected_digest(allow_md5=False), str(tmp_path / "node"))
    assert _atime(secret) == 0
    assert not (tmp_path / "node").exists()
    assert _cache_is_empty(cache)


def test_directory_swapped_for_a_link_is_not_followed(
        allowed_dir: pathlib.Path, tmp_path: pathlib.Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = _untouched_file(outside / "disk.img", b"x")
    (allowed_dir / "sub").mkdir()
    (allowed_dir / "sub" / "disk.img").write_bytes(b"x")
    access = FileAccess((str(allowed_dir),))
    real = access.check(str(allowed_dir / "sub" / "disk.img"), "file://...")
    (allowed_dir / "sub" / "disk.img").unlink()
    (allowed_dir / "sub").rmdir()
    (allowed_dir / "sub").symlink_to(outside)

    with pytest.raises(ImageReferenceError, match="changed while being opened"), \
            opened(real):
        pass
    assert _atime(secret) == 0


def test_other_hosts_are_refused(file_access: FileAccess) -> None:
    with pytest.raises(ImageReferenceError, match="not host 'otherhost'"):
        dispatch.resolve("file://otherhost/var/lib/ingot/images/x.img", _info(b""),
                         dispatch.SourceAccess(file_access=file_access))


def test_paths_outside_the_allowed_directories_are_refused(
        tmp_path: pathlib.Path, file_access: FileAccess) -> None:
    (tmp_path / "elsewhere.img").write_bytes(b"x")
    with pytest.raises(ImageReferenceError, match="is not under"):
        dispatch.resolve((tmp_path / "elsewhere.img").as_uri(), _info(b"x"),
                         dispatch.SourceAccess(file_access=file_access))


def test_empty_allowed_list_disables_file_sources(allowed_dir: pathlib.Path) -> None:
    (allowed_dir / "x.img").write_bytes(b"x")
    with pytest.raises(ImageReferenceError, match="disabled"):
        dispatch.resolve((allowed_dir / "x.img").as_uri(), _info(b"x"),
                         dispatch.SourceAccess(file_access=FileAccess(())))


def test_fifo_is_refused_without_blocking(allowed_dir: pathlib.Path,
                                          file_access: FileAccess) -> None:
    os.mkfifo(allowed_dir / "pipe.img")
    with pytest.raises(ImageReferenceError, match="not a regular file"):
        dispatch.resolve((allowed_dir / "pipe.img").as_uri(), _info(b""),
                         dispatch.SourceAccess(file_access=file_access))


def test_missing_file_is_not_found(allowed_dir: pathlib.Path,
                                   file_access: FileAccess) -> None:
    with pytest.raises(ImageNotFound, match="does not exist"):
        dispatch.resolve((allowed_dir / "nope.img").as_uri(), _info(b""),
                         dispatch.SourceAccess(file_access=file_access))


def test_file_sources_need_a_checksum_too(allowed_dir: pathlib.Path,
                                          file_access: FileAccess) -> None:
    image = _untouched_file(allowed_dir / "disk.img", b"x")
    with pytest.raises(MissingImageInfo, match="image_checksum"):
        dispatch.resolve(image.as_uri(), {}, dispatch.SourceAccess(file_access=file_access))
    assert _atime(image) == 0


def test_relative_allowed_paths_are_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="absolute path"):
        FileAccess(("images",))
    with pytest.raises(ValueError, match="absolute path"):
        FileAccess(("/var/lib/../../etc",))
