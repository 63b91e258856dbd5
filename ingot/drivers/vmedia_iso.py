"""The per-node agent ISO for virtual media, as Ironic builds one for a node that names
deploy_kernel and deploy_ramdisk rather than a deploy_iso: those two files on a bootable
ISO whose kernel command line is the node's kernel_append_params followed by what the
conductor hands the ramdisk (ipa-api-url, an inspection callback URL...), since a virtual
CD has no iPXE script to carry them."""

from __future__ import annotations

import pathlib
import tempfile

from ingot.boot.errors import BootConfigError
from ingot.boot.kernel_params import choose_append_params, param_word, split_params
from ingot.db.models import Node
from ingot.drivers import image_delivery
from ingot.drivers.interfaces import DriverError
from ingot.drivers.services import Services
from ingot.images.sources import dispatch
from ingot.ramdisk.debian import BuildError
from ingot.ramdisk.iso import make_iso

BOOT_FILES = ("deploy_kernel", "deploy_ramdisk")


def command_line(node: Node, params: dict[str, str]) -> str:
    """The ramdisk's kernel command line; BootConfigError names a bad field."""
    field, append = choose_append_params(node.instance_info, node.driver_info, "")
    words = split_params(field, append)
    words += [param_word(f"kernel parameter {key!r}", key, value)
              for key, value in params.items()]
    return " ".join(words)


def build(node: Node, services: Services, params: dict[str, str],
          dest: pathlib.Path) -> None:
    """Fetch the node's deploy kernel and ramdisk (through the image cache) and write
    the ISO to dest (blocking)."""
    try:
        append = command_line(node, params)
    except BootConfigError as exc:
        raise DriverError(f"Cannot build the deploy ISO: {exc}") from None
    access = image_delivery.access(node, services)
    with tempfile.TemporaryDirectory(dir=dest.parent) as scratch:
        files = {}
        for field in BOOT_FILES:
            checksum = node.driver_info.get(f"{field}_checksum")
            source = dispatch.resolve(node.driver_info[field],
                                      {"image_checksum": checksum} if checksum else {},
                                      access)
            files[field] = pathlib.Path(scratch) / field
            services.image_cache.fetch(source, dispatch.fetcher(source, access),
                                       dispatch.expected_digest(source, access),
                                       str(files[field]))
        try:
            make_iso(files["deploy_kernel"], files["deploy_ramdisk"], dest, append)
        except BuildError as exc:
            raise DriverError(f"Cannot build the deploy ISO: {exc}") from None
