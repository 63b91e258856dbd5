"""The HTTP root iPXE machines boot from, laid out as Ironic lays out its own:

    <root>/boot.ipxe                          the chain script
    <root>/<node uuid>/config                 the node's rendered iPXE config
    <root>/<node uuid>/deploy_kernel|...      boot files (hard links into the image cache)
    <root>/<node uuid>/mac_links              names of the node's MAC links (bookkeeping)
    <root>/<config subdir>/<mac-with-dashes>  -> ../<node uuid>/config, per PXE port

Every change is atomic (temporary name + rename), and every function returns the paths
it wrote or removed. clean_up removes one node's directory and the MAC links pointing
at it, nothing else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import shutil
from collections.abc import Iterable

from ingot.boot.checks import check_node_uuid, check_relative_path, normalize_mac
from ingot.boot.errors import BootConfigError
from ingot.boot.files import (
    PlacedFile,
    link_or_copy,
    symlink_atomically,
    write_atomically,
    write_if_changed,
)

BOOT_SCRIPT = "boot.ipxe"
CONFIG = "config"
# The node's MAC links, one name per line: finding them must not mean reading every
# link of a thousand-node root (that made each config write take 10 ms at 1000 nodes).
MAC_LINKS = "mac_links"
# Boot files a node directory may hold, named as in Ironic.
BOOT_FILE_LABELS = frozenset({"deploy_kernel", "deploy_ramdisk", "rescue_kernel",
                              "rescue_ramdisk", "kernel", "ramdisk", "boot_iso"})


@dataclasses.dataclass(frozen=True, slots=True)
class WrittenConfig:
    """A node's config file and the MAC links that point at it."""

    config: pathlib.Path
    mac_links: tuple[pathlib.Path, ...]
    stale_links_removed: tuple[pathlib.Path, ...] = ()


class HttpRoot:
    def __init__(self, root: str | pathlib.Path, *, config_subdir: str = "pxelinux.cfg",
                 file_mode: int = 0o644, dir_mode: int = 0o755) -> None:
        self.root = pathlib.Path(root)
        self.config_subdir = check_relative_path("[pxe] pxe_config_subdir", config_subdir)
        self.file_mode = file_mode
        self.dir_mode = dir_mode

    # -- paths ----------------------------------------------------------------------

    @property
    def boot_script(self) -> pathlib.Path:
        return self.root / BOOT_SCRIPT

    @property
    def mac_dir(self) -> pathlib.Path:
        return self.root / self.config_subdir

    def node_dir(self, node_uuid: str) -> pathlib.Path:
        return self.root / check_node_uuid("node uuid", node_uuid)

    def config_path(self, node_uuid: str) -> pathlib.Path:
        return self.node_dir(node_uuid) / CONFIG

    def mac_link(self, mac: str) -> pathlib.Path:
        return self.mac_dir / normalize_mac("port MAC", mac)

    def file_path(self, node_uuid: str, label: str) -> pathlib.Path:
        if label not in BOOT_FILE_LABELS:
            raise BootConfigError("boot file", f"{label!r} is not one of "
                                               f"{', '.join(sorted(BOOT_FILE_LABELS))}")
        return self.node_dir(node_uuid) / label

    def link_target(self, node_uuid: str) -> str:
        """The relative target of a MAC link: valid wherever the root is mounted."""
        depth = len(self.config_subdir.split("/"))
        return "/".join([".."] * depth + [check_node_uuid("node uuid", node_uuid), CONFIG])

    # -- writing --------------------------------------------------------------------

    def _mkdir(self, path: pathlib.Path) -> None:
        if not path.is_dir():
            path.mkdir(parents=True, exist_ok=True)
            os.chmod(path, self.dir_mode)

    def write_boot_script(self, text: str) -> pathlib.Path | None:
        """Write boot.ipxe if its content changed; the path if written, else None."""
        self._mkdir(self.root)
        changed = write_if_changed(self.boot_script, text.encode(), self.file_mode)
        return self.boot_script if changed else None

    def write_config(self, node_uuid: str, text: str, macs: Iterable[str]) -> WrittenConfig:
        """Write the node's config and a link per MAC; links of MACs not given that
        still point at this node (a removed port) are removed."""
        wanted = [self.mac_link(mac) for mac in macs]  # checks every MAC before writing
        node_dir = self.node_dir(node_uuid)
        self._mkdir(node_dir)
        self._mkdir(self.mac_dir)
        config = write_atomically(node_dir / CONFIG, text.encode(), self.file_mode)
        target = self.link_target(node_uuid)
        recorded = self._recorded_links(node_uuid, scan=False)
        wanted = list(dict.fromkeys(wanted))
        # Recorded before they exist, so an interrupted write leaves no unrecorded link.
        self._record_links(node_uuid, list(dict.fromkeys(recorded + wanted)))
        links = tuple(symlink_atomically(link, target) for link in wanted)
        stale = tuple(link for link in recorded
                      if link not in links and self._points_at(link, target))
        for link in stale:
            link.unlink(missing_ok=True)
        self._record_links(node_uuid, list(links))
        return WrittenConfig(config=config, mac_links=links, stale_links_removed=stale)

    def _record_links(self, node_uuid: str, links: list[pathlib.Path]) -> None:
        names = "".join(f"{link.name}\n" for link in links).encode()
        write_if_changed(self.node_dir(node_uuid) / MAC_LINKS, names, self.file_mode)

    def place_file(self, node_uuid: str, label: str, source: pathlib.Path) -> PlacedFile:
        """Hard-link (or copy, across filesystems) a cached file into the node's dir."""
        path = self.file_path(node_uuid, label)
        self._mkdir(path.parent)
        return link_or_copy(pathlib.Path(source), path, self.file_mode)

    # -- removing -------------------------------------------------------------------

    @staticmethod
    def _points_at(link: pathlib.Path, target: str) -> bool:
        try:
            return os.readlink(link) == target
        except OSError:  # gone, or not a link
            return False

    def _recorded_links(self, node_uuid: str, scan: bool = True) -> list[pathlib.Path]:
        """The node's MAC links as recorded when its config was written. Without a
        record (a root written by hand), ``scan`` reads every link of the MAC directory:
        right for clean_up, too slow for each config write at a thousand nodes."""
        try:
            names = (self.node_dir(node_uuid) / MAC_LINKS).read_text().split()
        except FileNotFoundError:
            return self._links_to(node_uuid) if scan else []
        return [self.mac_dir / name for name in names
                if normalize_mac("recorded MAC link", name) == name]

    def _links_to(self, node_uuid: str) -> list[pathlib.Path]:
        target = self.link_target(node_uuid)
        try:
            entries = list(os.scandir(self.mac_dir))
        except FileNotFoundError:
            return []
        found = []
        for entry in entries:
            if entry.is_symlink():
                with contextlib.suppress(OSError):
                    if os.readlink(entry.path) == target:
                        found.append(pathlib.Path(entry.path))
        return found

    def remove_files(self, node_uuid: str, labels: Iterable[str]) -> list[pathlib.Path]:
        """Remove some of a node's boot files (e.g. the deploy ones once it is active)."""
        removed = []
        for label in labels:
            path = self.file_path(node_uuid, label)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed.append(path)
        return removed

    def clean_up(self, node_uuid: str, macs: Iterable[str] = ()) -> list[pathlib.Path]:
        """Remove the node's directory and every MAC link pointing at it.

        A link of one of ``macs`` that points at another node (the port moved) is left
        alone; the links recorded when the config was written are removed too, so links
        of ports deleted since do not linger.
        """
        target = self.link_target(node_uuid)
        removed: list[pathlib.Path] = []
        candidates = [self.mac_link(mac) for mac in macs] + self._recorded_links(node_uuid)
        for link in dict.fromkeys(candidates):
            if self._points_at(link, target):
                link.unlink(missing_ok=True)
                removed.append(link)
        node_dir = self.node_dir(node_uuid)
        if node_dir.is_dir() and not node_dir.is_symlink():
            removed.extend(sorted(p for p in node_dir.rglob("*")))
            shutil.rmtree(node_dir)
            removed.append(node_dir)
        return removed
