"""The deploy ramdisk's kernel command line: sources, order and what ingot adds."""

from __future__ import annotations

from ingot.boot.kernel_params import (
    build_kernel_params,
    choose_append_params,
    node_kernel_params,
)
from tests.boot.conftest import API_URL

DEFAULT = "nofb vga=normal"


def test_instance_info_wins_over_driver_info_and_the_default() -> None:
    field, value = choose_append_params({"kernel_append_params": "console=ttyS0"},
                                        {"kernel_append_params": "quiet"}, DEFAULT)
    assert (field, value) == ("instance_info.kernel_append_params", "console=ttyS0")


def test_driver_info_wins_over_the_default() -> None:
    field, value = choose_append_params({}, {"kernel_append_params": "quiet"}, DEFAULT)
    assert (field, value) == ("driver_info.kernel_append_params", "quiet")


def test_the_default_applies_when_the_node_sets_nothing() -> None:
    assert choose_append_params(None, None, DEFAULT) == ("[pxe] kernel_append_params",
                                                         DEFAULT)


def test_default_placeholder_is_replaced_by_the_configured_default() -> None:
    line = node_kernel_params(ipa_api_url=API_URL,
                              instance_info={"kernel_append_params": "%default% console=ttyS0"},
                              driver_info=None, default_append=DEFAULT)
    assert line.words[:3] == ("nofb", "vga=normal", "console=ttyS0")


def test_command_line_order_and_what_ingot_adds() -> None:
    line = build_kernel_params(ipa_api_url=API_URL, append_params="  nofb   vga=normal ",
                               extra={"ipa-debug": "1", "ipa-global-request-id": "req-1",
                                      "nomodeset": None})
    assert str(line) == (f"nofb vga=normal ipa-api-url={API_URL} BOOTIF=${{mac}} "
                         f"ipa-debug=1 ipa-global-request-id=req-1 nomodeset "
                         f"initrd=deploy_ramdisk")
    assert line.value_of("ipa-api-url") == API_URL
    assert line.value_of("nomodeset") is None


def test_empty_append_params_give_only_what_ingot_needs() -> None:
    line = build_kernel_params(ipa_api_url=API_URL, append_params="")
    assert line.words == (f"ipa-api-url={API_URL}", "BOOTIF=${mac}", "initrd=deploy_ramdisk")
