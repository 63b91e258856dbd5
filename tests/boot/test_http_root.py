"""The HTTP root on disk: configs, MAC links, boot files, clean-up, atomic rewrites."""

from __future__ import annotations

import errno
import os
import pathlib
import tempfile
import threading
from collections.abc import Iterator

import pytest

from ingot.boot.errors import BootConfigError
from ingot.boot.http_root import HttpRoot
from tests.boot.conftest import NODE, OTHER_NODE

MACS = ("52:54:00:12:34:56", "52:54:00:AB:CD:EF")


def snapshot(root: pathlib.Path) -> dict[str, str]:
    """Every entry under root: files by content, links by target."""
    entries: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        name = str(path.relative_to(root))
        if path.is_symlink():
            entries[name] = f"-> {os.readlink(path)}"
        elif path.is_file():
            entries[name] = path.read_text(errors="replace")
        else:
            entries[name] = "<dir>"
    return entries


def test_config_and_relative_mac_links(http_root: HttpRoot) -> None:
    written = http_root.write_config(NODE, "#!ipxe\necho one\n", MACS)
    root = http_root.root
    assert written.config == root / NODE / "config"
    assert written.config.read_text() == "#!ipxe\necho one\n"
    assert written.mac_links == (root / "pxelinux.cfg" / "52-54-00-12-34-56",
                                 root / "pxelinux.cfg" / "52-54-00-ab-cd-ef")
    for link in written.mac_links:
        assert os.readlink(link) == f"../{NODE}/config"  # relative: survives a move
        assert link.read_text() == "#!ipxe\necho one\n"
    assert (written.config.stat().st_mode & 0o777) == 0o644
    assert ((root / NODE).stat().st_mode & 0o777) == 0o755


def test_nested_config_subdir_links_climb_enough(tmp_path: pathlib.Path) -> None:
    root = HttpRoot(tmp_path / "r", config_subdir="ipxe/macs", file_mode=0o640,
                    dir_mode=0o750)
    written = root.write_config(NODE, "#!ipxe\n", MACS[:1])
    assert os.readlink(written.mac_links[0]) == f"../../{NODE}/config"
    assert written.mac_links[0].read_text() == "#!ipxe\n"
    assert (written.config.stat().st_mode & 0o777) == 0o640
    assert ((tmp_path / "r" / NODE).stat().st_mode & 0o777) == 0o750


def test_rewrite_drops_links_of_removed_ports(http_root: HttpRoot) -> None:
    http_root.write_config(NODE, "#!ipxe\n", MACS)
    again = http_root.write_config(NODE, "#!ipxe\necho two\n", MACS[:1])
    assert again.stale_links_removed == (http_root.mac_dir / "52-54-00-ab-cd-ef",)
    assert sorted(p.name for p in http_root.mac_dir.iterdir()) == ["52-54-00-12-34-56"]


def test_bad_mac_writes_nothing(http_root: HttpRoot) -> None:
    with pytest.raises(BootConfigError, match="port MAC"):
        http_root.write_config(NODE, "#!ipxe\n", ["52:54:00:12:34:56", "not-a-mac"])
    assert not http_root.root.exists()


def test_boot_script_is_only_rewritten_when_it_changes(http_root: HttpRoot) -> None:
    assert http_root.write_boot_script("#!ipxe\necho a\n") == http_root.root / "boot.ipxe"
    inode = http_root.boot_script.stat().st_ino
    assert http_root.write_boot_script("#!ipxe\necho a\n") is None
    assert http_root.boot_script.stat().st_ino == inode
    assert http_root.write_boot_script("#!ipxe\necho b\n") is not None
    assert http_root.boot_script.read_text() == "#!ipxe\necho b\n"


def test_cached_file_is_hard_linked_on_the_same_filesystem(http_root: HttpRoot,
                                                           tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    kernel = cache / "0b9c6f1e.kernel"
    kernel.write_bytes(b"kernel bytes")
    placed = http_root.place_file(NODE, "deploy_kernel", kernel)
    assert placed.method == "link"
    assert placed.path == http_root.root / NODE / "deploy_kernel"
    assert placed.path.stat().st_ino == kernel.stat().st_ino
    assert http_root.place_file(NODE, "deploy_kernel", kernel).method == "unchanged"
    # A new cache entry (new inode) replaces the link in one step.
    newer = cache / "newer.kernel"
    newer.write_bytes(b"newer kernel")
    assert http_root.place_file(NODE, "deploy_kernel", newer).method == "link"
    assert placed.path.read_bytes() == b"newer kernel"
    assert kernel.read_bytes() == b"kernel bytes"  # the old cache entry is untouched


@pytest.fixture
def other_filesystem(tmp_path: pathlib.Path) -> Iterator[pathlib.Path]:
    """A directory on another filesystem than tmp_path (tmpfs /dev/shm)."""
    shm = pathlib.Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("/dev/shm is not available for a second filesystem")
    if shm.stat().st_dev == tmp_path.stat().st_dev:
        pytest.skip(f"/dev/shm and {tmp_path} are on the same filesystem")
    with tempfile.TemporaryDirectory(dir=shm, prefix="ingot-boot-") as directory:
        yield pathlib.Path(directory)


def test_cached_file_is_copied_across_filesystems(http_root: HttpRoot,
                                                  other_filesystem: pathlib.Path) -> None:
    ramdisk = other_filesystem / "ramdisk"
    ramdisk.write_bytes(b"ramdisk bytes" * 1000)
    os.chmod(ramdisk, 0o600)
    placed = http_root.place_file(NODE, "deploy_ramdisk", ramdisk)
    assert placed.method == "copy"
    assert placed.path.read_bytes() == ramdisk.read_bytes()
    assert placed.path.stat().st_dev != ramdisk.stat().st_dev
    assert (placed.path.stat().st_mode & 0o777) == 0o644  # readable by the web server
    assert http_root.place_file(NODE, "deploy_ramdisk", ramdisk).method == "copy"


def test_link_refused_on_one_device_falls_back_to_copy(http_root: HttpRoot,
                                                       tmp_path: pathlib.Path,
                                                       monkeypatch: pytest.MonkeyPatch
                                                       ) -> None:
    # Bind mounts share st_dev but refuse links with EXDEV; so does protected_hardlinks
    # with EPERM for other users' files.
    source = tmp_path / "kernel"
    source.write_bytes(b"k")

    def refuse(src: object, dst: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", refuse)
    placed = http_root.place_file(NODE, "deploy_kernel", source)
    assert placed.method == "copy" and placed.path.read_bytes() == b"k"
    assert placed.path.stat().st_ino != source.stat().st_ino


def test_missing_cache_file_leaves_no_temporary_behind(http_root: HttpRoot,
                                                       tmp_path: pathlib.Path) -> None:
    with pytest.raises(FileNotFoundError):
        http_root.place_file(NODE, "deploy_kernel", tmp_path / "absent")
    assert list((http_root.root / NODE).iterdir()) == []


def test_unknown_boot_file_label_is_refused(http_root: HttpRoot,
                                            tmp_path: pathlib.Path) -> None:
    with pytest.raises(BootConfigError, match="boot file"):
        http_root.place_file(NODE, "../../etc/passwd", tmp_path)


def test_clean_up_removes_the_node_and_nothing_else(http_root: HttpRoot,
                                                    tmp_path: pathlib.Path) -> None:
    cached = tmp_path / "cached"
    cached.write_bytes(b"kernel")
    http_root.write_boot_script("#!ipxe\n")
    http_root.write_config(OTHER_NODE, "#!ipxe\necho other\n", ["52:54:00:00:00:99"])
    http_root.place_file(OTHER_NODE, "deploy_kernel", cached)
    before = snapshot(http_root.root)

    http_root.write_config(NODE, "#!ipxe\necho mine\n", MACS)
    http_root.place_file(NODE, "deploy_kernel", cached)
    http_root.place_file(NODE, "deploy_ramdisk", cached)
    removed = http_root.clean_up(NODE, MACS)

    assert snapshot(http_root.root) == before
    assert set(removed) == {
        http_root.mac_dir / "52-54-00-12-34-56", http_root.mac_dir / "52-54-00-ab-cd-ef",
        http_root.root / NODE / "config", http_root.root / NODE / "deploy_kernel",
        http_root.root / NODE / "deploy_ramdisk", http_root.root / NODE / "mac_links",
        http_root.root / NODE}
    assert cached.read_bytes() == b"kernel"  # the cache entry survives
    assert http_root.clean_up(NODE, MACS) == []  # idempotent


def test_clean_up_keeps_a_moved_port_link_and_finds_forgotten_ones(http_root: HttpRoot
                                                                   ) -> None:
    http_root.write_config(NODE, "#!ipxe\n", MACS)
    # The first port now belongs to another node; the second was deleted from the API.
    http_root.write_config(OTHER_NODE, "#!ipxe\necho other\n", MACS[:1])
    removed = http_root.clean_up(NODE, macs=MACS[:1])
    assert removed[0] == http_root.mac_dir / "52-54-00-ab-cd-ef"
    assert os.readlink(http_root.mac_dir / "52-54-00-12-34-56") == f"../{OTHER_NODE}/config"
    assert not (http_root.mac_dir / "52-54-00-ab-cd-ef").exists()


def test_clean_up_without_a_record_scans_for_links(http_root: HttpRoot) -> None:
    """A root written by hand (or by an older ingot) has no mac_links record."""
    http_root.write_config(NODE, "#!ipxe\n", MACS)
    (http_root.root / NODE / "mac_links").unlink()
    removed = http_root.clean_up(NODE)
    assert {p.name for p in removed} >= {"52-54-00-12-34-56", "52-54-00-ab-cd-ef"}
    assert list(http_root.mac_dir.iterdir()) == []


def test_rerender_is_atomic_for_readers(http_root: HttpRoot) -> None:
    """A reader through the MAC link sees a whole old or a whole new config, never a
    mix or an empty file, while the config is rewritten repeatedly."""
    old, new = "#!ipxe\n" + "echo old\n" * 5000, "#!ipxe\n" + "echo new\n" * 7000
    http_root.write_config(NODE, old, MACS[:1])
    link = http_root.mac_dir / "52-54-00-12-34-56"
    seen: set[str] = set()
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.add(link.read_text())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(200):
            http_root.write_config(NODE, new if i % 2 else old, MACS[:1])
    finally:
        stop.set()
        reader.join()
    assert seen <= {old, new} and seen
    assert sorted(p.name for p in (http_root.root / NODE).iterdir()) == ["config",
                                                                          "mac_links"]
    assert [p.name for p in http_root.mac_dir.iterdir()] == ["52-54-00-12-34-56"]
