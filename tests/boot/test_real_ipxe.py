"""Real iPXE (Debian ipxe-qemu) in a QEMU VM booting from an HTTP root ingot wrote.

Each test writes the HTTP root with IpxeBoot, serves it with a static HTTP server on
127.0.0.1 (10.0.2.2 in the guest), and boots a VM whose NIC ROM gets boot.ipxe from
QEMU's DHCP. The test kernel's /init POSTs /proc/cmdline back to the URL in
``ingot_callback=``, so the parameters are checked as the booted kernel saw them. Each
run is bounded (QEMU is killed by PID) and ends early on iPXE errors or a kernel panic,
with the serial log in the failure message. Under TCG on 2 busy cores a BIOS boot takes
15-25 s and a UEFI boot 20-35 s.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import time
from collections.abc import Iterator

import pytest

from ingot.boot.ipxe import IpxeBoot, NodeBoot, PreparedBoot
from ingot.boot.settings import PxeSettings
from ingot.boot.sources import BootUrl, CachedFile
from tests.servers.bootfiles import LOCAL_DISK_MARKER, BootFiles, boot_files, local_disk_image
from tests.servers.httproot import HttpRootServer
from tests.servers.qemu import FAILURE_PATTERNS, Firmware, NetbootVm, VmSpec, require_qemu

pytestmark = pytest.mark.slow

BOOT_TIMEOUT = 120.0
API_URL = "http://10.0.2.2:6385"
SIG = "5d41402abc4b2a76b9719d911017c592ab6fe1c0c3e7a2b4d5f60718293a4b5c"


@pytest.fixture(scope="module")
def files() -> BootFiles:
    require_qemu()
    return boot_files()


@dataclasses.dataclass
class Site:
    """An HTTP root written by ingot and the server that serves it to the VM."""

    boot: IpxeBoot
    server: HttpRootServer
    workdir: pathlib.Path

    def vm(self, mac: str, firmware: Firmware = "bios", disk: pathlib.Path | None = None,
           extra_macs: tuple[str, ...] = ()) -> NetbootVm:
        spec = VmSpec(bootfile_url=f"{self.server.guest_url}/boot.ipxe", mac=mac,
                      firmware=firmware, disk=disk, extra_macs=extra_macs)
        return NetbootVm(spec, self.workdir / f"vm-{mac.replace(':', '')}-{firmware}")

    def swift_object(self, source: pathlib.Path, name: str, expires_at: int) -> BootUrl:
        """A file served at a Swift-like path; the server answers 403 unless the query
        arrives exactly as signed, as Swift's tempurl middleware would."""
        path = f"/v1/AUTH_test/glance/{name}"
        target = self.server.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(source.read_bytes())
        query = f"temp_url_sig={SIG}&temp_url_expires={expires_at}"
        self.server.expect_query(path, query)
        return BootUrl(f"{self.server.guest_url}{path}?{query}", expires_at)


@pytest.fixture
def site(tmp_path: pathlib.Path) -> Iterator[Site]:
    root = tmp_path / "httpboot"
    root.mkdir()
    with HttpRootServer(root) as server:
        settings = PxeSettings(
            http_root=root, http_url=server.guest_url, config_subdir="pxelinux.cfg",
            use_swift=True, kernel_append_params="nofb vga=normal", ipxe_timeout=60,
            download_attempts=3, boot_script_template=None, deploy_template=None,
            local_boot_template=None, fallback_script=None, file_mode=0o644,
            dir_mode=0o755, boot_retry_timeout=None, deploy_callback_timeout=1800)
        yield Site(IpxeBoot(settings), server, tmp_path)


def cached(files: BootFiles) -> tuple[CachedFile, CachedFile]:
    """The test kernel and initramfs as image cache entries: (kernel, ramdisk)."""
    return CachedFile(files.kernel), CachedFile(files.initramfs)


def deploy(site: Site, uuid: str, mac: str, kernel: BootUrl | CachedFile,
           ramdisk: BootUrl | CachedFile, boot_mode: Firmware = "bios",
           pxe_macs: tuple[str, ...] | None = None) -> PreparedBoot:
    macs = pxe_macs if pxe_macs is not None else (mac, "52:54:00:ff:ff:01")
    node = NodeBoot(uuid=uuid, pxe_macs=macs, boot_mode=boot_mode,
                    driver_info={"kernel_append_params": "%default% console=ttyS0"})
    return site.boot.prepare_deploy(
        node, kernel=kernel, ramdisk=ramdisk,
        ramdisk_params={"ipa-api-url": API_URL,
                        "ingot_callback": site.server.callback_url(uuid)})


def boot_until_callback(site: Site, uuid: str, mac: str, firmware: Firmware = "bios",
                        extra_macs: tuple[str, ...] = (),
                        ignore: tuple[re.Pattern[str], ...] = ()) -> tuple[str, float]:
    with site.vm(mac, firmware, extra_macs=extra_macs) as vm:
        seconds = vm.wait(lambda: bool(site.server.callbacks.get(uuid)), BOOT_TIMEOUT,
                          f"{firmware} deploy boot of {uuid}", ignore=ignore)
        site.server.wait_callback(uuid, 1)
    return site.server.callbacks[uuid][0].decode(), seconds


def assert_fetched_by_ipxe(site: Site, paths: list[str]) -> None:
    for path in paths:
        hits = [hit for hit in site.server.hits_for(path) if hit.status == 200]
        assert hits, f"{path} was not fetched:\n{site.server.describe_hits()}"
        assert hits[0].user_agent.startswith("iPXE/"), site.server.describe_hits()


def assert_agent_params(cmdline: str, mac: str) -> None:
    words = cmdline.split()
    assert f"ipa-api-url={API_URL}" in words, cmdline
    assert f"BOOTIF={mac}" in words, cmdline  # expanded by iPXE from ${mac}
    assert "initrd=deploy_ramdisk" in words, cmdline
    assert "console=ttyS0" in words and "nofb" in words, cmdline


def test_bios_boot_from_the_local_cache(site: Site, files: BootFiles) -> None:
    uuid, mac = "0d7f6a8e-1b2c-4d3e-8f4a-5b6c7d8e9f01", "52:54:00:12:34:61"
    prepared = deploy(site, uuid, mac, *cached(files))
    assert [p.method for p in prepared.placed] == ["link", "link"]
    cmdline, seconds = boot_until_callback(site, uuid, mac)
    assert_agent_params(cmdline, mac)
    assert_fetched_by_ipxe(site, ["/boot.ipxe", "/pxelinux.cfg/52-54-00-12-34-61",
                                  f"/{uuid}/deploy_kernel", f"/{uuid}/deploy_ramdisk"])
    assert seconds < BOOT_TIMEOUT


def test_bios_boot_through_temp_urls(site: Site, files: BootFiles) -> None:
    uuid, mac = "1e8a7b9f-2c3d-4e4f-9a5b-6c7d8e9f0a12", "52:54:00:12:34:62"
    expires = int(time.time()) + 3600
    kernel = site.swift_object(files.kernel, "3f2a1b0c-kernel", expires)
    ramdisk = site.swift_object(files.initramfs, "4a3b2c1d-ramdisk", expires)
    prepared = deploy(site, uuid, mac, kernel, ramdisk)
    assert prepared.placed == () and prepared.expires_at == expires
    assert not (site.server.root / uuid / "deploy_kernel").exists()
    assert not (site.server.root / uuid / "deploy_ramdisk").exists()
    cmdline, _ = boot_until_callback(site, uuid, mac)
    assert_agent_params(cmdline, mac)
    # Both queries arrived exactly as signed (the server answers 403 otherwise).
    assert_fetched_by_ipxe(site, ["/v1/AUTH_test/glance/3f2a1b0c-kernel",
                                  "/v1/AUTH_test/glance/4a3b2c1d-ramdisk"])
    assert not site.server.hits_for(f"/{uuid}/deploy_kernel")


def test_uefi_boot_mixing_a_temp_url_and_the_local_cache(site: Site,
                                                         files: BootFiles) -> None:
    """UEFI kernels find the initrd only through initrd=<name>; the ramdisk is not in
    Swift, so with use_swift on it is still served from the local cache."""
    require_qemu("uefi")
    uuid, mac = "2f9b8c0a-3d4e-4f5a-8b6c-7d8e9f0a1b23", "52:54:00:12:34:63"
    kernel = site.swift_object(files.kernel, "5b4c3d2e-kernel", int(time.time()) + 3600)
    prepared = deploy(site, uuid, mac, kernel, CachedFile(files.initramfs),
                      boot_mode="uefi")
    assert [p.path.name for p in prepared.placed] == ["deploy_ramdisk"]
    cmdline, _ = boot_until_callback(site, uuid, mac, "uefi")
    assert_agent_params(cmdline, mac)
    assert_fetched_by_ipxe(site, ["/v1/AUTH_test/glance/5b4c3d2e-kernel",
                                  f"/{uuid}/deploy_ramdisk"])


def test_bios_local_boot_config_boots_the_disk(site: Site, files: BootFiles) -> None:
    uuid, mac = "3a0c9d1b-4e5f-4a6b-9c7d-8e9f0a1b2c34", "52:54:00:12:34:64"
    deploy(site, uuid, mac, *cached(files))
    local = site.boot.prepare_local_boot(NodeBoot(uuid=uuid, pxe_macs=(mac,)))
    assert {p.name for p in local.removed} == {"deploy_kernel", "deploy_ramdisk"}
    disk = local_disk_image(site.workdir / "disk.img")
    with site.vm(mac, disk=disk) as vm:
        vm.wait(lambda: LOCAL_DISK_MARKER in vm.serial(), BOOT_TIMEOUT,
                "local boot through sanboot")
    assert_fetched_by_ipxe(site, ["/boot.ipxe", "/pxelinux.cfg/52-54-00-12-34-64"])
    assert not site.server.callbacks


def test_failed_downloads_are_retried_a_bounded_number_of_times(site: Site,
                                                                files: BootFiles) -> None:
    uuid, mac = "4b1d0e2c-5f6a-4b7c-8d8e-9f0a1b2c3d45", "52:54:00:12:34:65"
    deploy(site, uuid, mac, *cached(files))
    (site.server.root / uuid / "deploy_kernel").unlink()  # the machine gets 404s
    with site.vm(mac) as vm:
        # Expected errors: ignore them and wait for iPXE to hand back to the BIOS.
        vm.wait(lambda: "No bootable device" in vm.serial(), BOOT_TIMEOUT,
                "giving up after the download attempts", ignore=FAILURE_PATTERNS)
    kernel_hits = site.server.hits_for(f"/{uuid}/deploy_kernel")
    assert len(kernel_hits) == 3, site.server.describe_hits()  # download_attempts
    # The deploy config stopped boot.ipxe from starting the attempts over.
    assert len(site.server.hits_for("/pxelinux.cfg/52-54-00-12-34-65")) == 1
    assert "could not load the deploy kernel and ramdisk after 3 attempts" in vm.serial()
    assert not site.server.callbacks


def test_config_of_another_nic_is_found(site: Site, files: BootFiles) -> None:
    """The machine boots from its first NIC but only its second is a PXE port: boot.ipxe
    walks net0..netN (iPXE's nested ${net${i}/mac:hexhyp}) and finds that config."""
    uuid = "5c2e1f3d-6a7b-4c8d-9e9f-0a1b2c3d4e56"
    booting, second = "52:54:00:12:34:66", "52:54:00:12:34:67"
    deploy(site, uuid, second, *cached(files), pxe_macs=(second,))
    # The first chain (booting MAC) gets a 404 by design; kernel panics still count.
    cmdline, _ = boot_until_callback(site, uuid, booting, extra_macs=(second,),
                                     ignore=FAILURE_PATTERNS[:1])
    assert f"ipa-api-url={API_URL}" in cmdline.split()
    assert [hit.status for hit in site.server.hits_for("/pxelinux.cfg/52-54-00-12-34-66")
            ] == [404]
    assert_fetched_by_ipxe(site, ["/pxelinux.cfg/52-54-00-12-34-67"])


def test_unknown_machine_leaves_network_boot_after_bounded_rounds(site: Site) -> None:
    site.boot.write_boot_script()
    with site.vm("52:54:00:12:34:68") as vm:
        vm.wait(lambda: "No bootable device" in vm.serial(), BOOT_TIMEOUT,
                "boot.ipxe giving up", ignore=FAILURE_PATTERNS)
    rounds = site.server.hits_for("/pxelinux.cfg/52-54-00-12-34-68")
    assert len(rounds) == 3 and {hit.status for hit in rounds} == {404}
    assert len(site.server.hits_for("/boot.ipxe")) == 1
    assert "leaving network boot" in vm.serial()
