"""The deploy ramdisk's kernel command line, built from checked words only.

Order: the node's kernel_append_params (instance_info, then driver_info, then [pxe]
kernel_append_params; ``%default%`` in a node's value stands for the configured
default, as in Ironic), then ``ipa-api-url``, ``BOOTIF=${mac}`` (iPXE puts the booting
NIC's MAC there), the extra parameters, and ``initrd=<name>`` so that kernels booted by
UEFI find their ramdisk. Every word is checked (see checks.py); Ironic strips CR/LF and
then drops the result, so its parameters reach iPXE unchecked.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ingot.boot.checks import check_kernel_token, check_name, check_param_key
from ingot.boot.errors import BootConfigError

APPEND_PARAMS_KEY = "kernel_append_params"
DEFAULT_PLACEHOLDER = "%default%"
# Set by ingot itself; a second copy from a node would be ambiguous (the agent and the
# kernel take different occurrences), so nodes cannot set them.
RESERVED_KEYS = frozenset({"BOOTIF", "initrd", "ipa-api-url"})
# Linux on x86 keeps 2047 bytes of command line and silently drops the rest; leave room
# for BOOTIF's expansion and the image name UEFI iPXE puts in front.
MAX_LENGTH = 1900
BOOTIF = "BOOTIF=${mac}"
_BOOTIF_EXPANDED = len("BOOTIF=") + len("00:00:00:00:00:00")


@dataclasses.dataclass(frozen=True, slots=True)
class KernelCommandLine:
    """Checked words of a kernel command line; str() joins them with spaces."""

    words: tuple[str, ...]

    def __str__(self) -> str:
        return " ".join(self.words)

    def value_of(self, key: str) -> str | None:
        """The value of ``key=value`` (the last one), or None."""
        found = None
        for word in self.words:
            name, sep, value = word.partition("=")
            if name == key and sep:
                found = value
        return found


def choose_append_params(instance_info: Mapping[str, Any] | None,
                         driver_info: Mapping[str, Any] | None,
                         default: str) -> tuple[str, str]:
    """(field name, value) of the kernel_append_params that apply to a node."""
    for name, source in (("instance_info", instance_info), ("driver_info", driver_info)):
        value = (source or {}).get(APPEND_PARAMS_KEY)
        if value is None:
            continue
        field = f"{name}.{APPEND_PARAMS_KEY}"
        if not isinstance(value, str):
            raise BootConfigError(field, f"must be a string, not {type(value).__name__}")
        return field, value.replace(DEFAULT_PLACEHOLDER, default)
    return f"[pxe] {APPEND_PARAMS_KEY}", default


def split_params(field: str, value: str) -> list[str]:
    """The words of a space-separated parameter string, each checked."""
    if not isinstance(value, str):
        raise BootConfigError(field, f"must be a string, not {type(value).__name__}")
    # Control characters (tabs, CR, LF, NUL...) are refused by the check, not split on.
    words = [word for word in value.split(" ") if word]
    for word in words:
        check_kernel_token(field, word)
        if word.partition("=")[0] in RESERVED_KEYS:
            raise BootConfigError(field, f"{word!r}: {word.partition('=')[0]} is set by "
                                         f"ingot and cannot be given here")
    return words


def param_word(field: str, key: str, value: object) -> str:
    """``key=value``, or the bare ``key`` for a None value."""
    check_param_key(field, key)
    if value is None:
        return key
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise BootConfigError(field, f"must be a string, not {type(value).__name__}")
    word = f"{key}={value}"
    check_kernel_token(field, word)
    return word


def build_kernel_params(*, ipa_api_url: str, append_params: str = "",
                        append_field: str = APPEND_PARAMS_KEY,
                        extra: Mapping[str, str | None] | None = None,
                        initrd_name: str = "deploy_ramdisk") -> KernelCommandLine:
    """The deploy ramdisk's command line. Raises BootConfigError naming the bad field.

    ``ipa-api-url`` may be https: the agent, not iPXE, talks to the API.
    """
    words = split_params(append_field, append_params)
    words.append(param_word("ipa-api-url", "ipa-api-url", ipa_api_url))
    words.append(BOOTIF)
    for key, value in (extra or {}).items():
        if key in RESERVED_KEYS:
            raise BootConfigError(f"kernel parameter {key}", "is set by ingot and cannot "
                                                             "be given as an extra parameter")
        words.append(param_word(f"kernel parameter {key!r}", key, value))
    words.append(f"initrd={check_name('initrd name', initrd_name)}")
    line = KernelCommandLine(tuple(words))
    length = len(str(line)) - len(BOOTIF) + _BOOTIF_EXPANDED
    if length > MAX_LENGTH:
        raise BootConfigError(append_field, f"the kernel command line would be {length} "
                                            f"characters; at most {MAX_LENGTH} fit")
    return line


def node_kernel_params(*, ipa_api_url: str, instance_info: Mapping[str, Any] | None,
                       driver_info: Mapping[str, Any] | None, default_append: str,
                       extra: Mapping[str, str | None] | None = None,
                       initrd_name: str = "deploy_ramdisk") -> KernelCommandLine:
    """build_kernel_params with the node's kernel_append_params chosen as Ironic does."""
    field, append = choose_append_params(instance_info, driver_info, default_append)
    return build_kernel_params(ipa_api_url=ipa_api_url, append_params=append,
                               append_field=field, extra=extra, initrd_name=initrd_name)
