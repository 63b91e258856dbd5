"""The agent's settings from a kernel command line as ingot renders it."""

from __future__ import annotations

import pytest

from ingot.agent.kernel_cmdline import KernelCmdlineError, settings

LINE = ("BOOT_IMAGE=/vmlinuz console=ttyS0 ipa-api-url=http://10.0.2.2:6385/ "
        "BOOTIF=52:54:00:AB:CD:EF ipa-advertise-host=127.0.0.1 ipa-advertise-port=40001 "
        "ipa-debug=1 initrd=deploy_ramdisk")


def test_ipa_parameters() -> None:
    found = settings(LINE)
    assert found.api_url == "http://10.0.2.2:6385"
    assert found.bootif == "52:54:00:ab:cd:ef"
    assert (found.advertise_host, found.advertise_port) == ("127.0.0.1", 40001)
    assert found.listen_port == 9999
    assert found.lookup_timeout is None
    assert found.debug
    assert settings("ipa-api-url=http://a ipa-lookup-timeout=60").lookup_timeout == 60


def test_defaults_and_pxe_bootif() -> None:
    found = settings("ipa-api-url=https://api:6385 BOOTIF=01-52-54-00-ab-cd-ef")
    assert found.bootif == "52:54:00:ab:cd:ef"
    assert found.advertise_host is None and found.advertise_port is None
    assert not found.debug
    # iPXE leaves ${mac} as is when it cannot expand it.
    assert settings("ipa-api-url=http://a BOOTIF=${mac}").bootif is None


@pytest.mark.parametrize(("line", "message"), [
    ("console=ttyS0", "no ipa-api-url"),
    ("ipa-api-url=ftp://x", "no ipa-api-url"),
    ("ipa-api-url=http://a BOOTIF=zz", "BOOTIF='zz' is not a MAC"),
    ("ipa-api-url=http://a ipa-advertise-port=99999", "ipa-advertise-port='99999'"),
    ("ipa-api-url=http://a ipa-lookup-timeout=soon", "ipa-lookup-timeout='soon'"),
])
def test_bad_parameters_are_named(line: str, message: str) -> None:
    with pytest.raises(KernelCmdlineError, match=message):
        settings(line)
