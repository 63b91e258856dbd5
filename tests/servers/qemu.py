"""A QEMU virtual machine that network-boots with real iPXE (Debian ipxe-qemu), under TCG.

The NIC's iPXE ROM takes an address from QEMU's user-mode DHCP, which hands out
``bootfile=`` (the boot.ipxe URL; 10.0.2.2 in the guest is the host's 127.0.0.1).
Everything the firmware, iPXE and the kernel print goes to a serial log file. A failed
iPXE script does not end QEMU, so ``wait`` watches that log for iPXE error codes,
"No bootable device" and kernel panics and ends the wait at once with the log in the
message. The process is started in its own session and killed by its PID.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re
import shutil
import time
from collections.abc import Callable
from typing import Literal

from ingot.demo import os_image
from tests.servers.process import Process, unavailable

Firmware = Literal["bios", "uefi"]

QEMU = "qemu-system-x86_64"
OVMF_CODE = pathlib.Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = pathlib.Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
IPXE_ROMS = pathlib.Path("/usr/lib/ipxe/qemu")

# Seen in the serial log when a boot cannot succeed any more.
FAILURE_PATTERNS = (
    re.compile(r"https?://ipxe\.org/[0-9a-f]{8}"),
    re.compile(r"No bootable device"),
    re.compile(r"Kernel panic"),
)


class BootFailed(AssertionError):
    """The VM failed to boot, or did not finish in time; the message has the serial log."""


def uefi_available() -> bool:
    return OVMF_CODE.exists() and OVMF_VARS.exists()


def require_qemu(firmware: Firmware = "bios") -> None:
    if shutil.which(QEMU) is None:
        unavailable(f"{QEMU} is not installed (Debian package qemu-system-x86)")
    if not (IPXE_ROMS / "pxe-virtio.rom").exists():
        unavailable("the iPXE ROMs are not installed (Debian package ipxe-qemu)")
    if firmware == "uefi" and not uefi_available():
        unavailable("OVMF is not installed (Debian package ovmf)")


def os_disk(firmware: Firmware = "bios") -> pathlib.Path:
    """ingot's OS image for firmware (ingot/demo/os_image.py), built on first use."""
    problem = os_image.missing_tools(firmware)
    if problem is not None:
        unavailable(problem)
    return os_image.uefi_os_image() if firmware == "uefi" else os_image.os_image()


def _qemu_option_value(value: str) -> str:
    # QEMU splits -netdev options on commas; a literal comma is written twice.
    return value.replace(",", ",,")


@dataclasses.dataclass(frozen=True)
class VmSpec:
    bootfile_url: str
    mac: str = "52:54:00:12:34:56"
    firmware: Firmware = "bios"
    nic: str = "virtio-net-pci"
    memory_mb: int = 512
    disk: pathlib.Path | None = None  # a raw image as the first hard disk (BIOS 0x80)
    extra_macs: tuple[str, ...] = ()  # further NICs, after the one that boots


class NetbootVm:
    def __init__(self, spec: VmSpec, workdir: pathlib.Path) -> None:
        require_qemu(spec.firmware)
        self.spec = spec
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.serial_log = workdir / "serial.log"
        self.process: Process | None = None
        self.started_at = 0.0

    def argv(self) -> list[str]:
        spec = self.spec
        machine = "pc,accel=tcg" if spec.firmware == "bios" else "q35,accel=tcg"
        argv = [QEMU, "-machine", machine, "-m", str(spec.memory_mb), "-nographic",
                "-no-reboot", "-serial", f"file:{self.serial_log}", "-monitor", "none",
                "-netdev",
                f"user,id=n0,bootfile={_qemu_option_value(spec.bootfile_url)}",
                "-device", f"{spec.nic},netdev=n0,mac={spec.mac}", "-boot", "n"]
        for index, mac in enumerate(spec.extra_macs, start=1):
            argv += ["-netdev", f"user,id=n{index}",
                     "-device", f"{spec.nic},netdev=n{index},mac={mac}"]
        if spec.disk is not None:
            argv += ["-drive", f"file={_qemu_option_value(str(spec.disk))},format=raw,"
                               f"if=ide,index=0"]
        if spec.firmware == "uefi":
            variables = self.workdir / "OVMF_VARS.fd"
            shutil.copyfile(OVMF_VARS, variables)  # the firmware writes its variables
            argv += ["-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                     "-drive", f"if=pflash,format=raw,unit=1,file={variables}"]
        return argv

    def start(self) -> NetbootVm:
        self.serial_log.write_bytes(b"")
        self.started_at = time.monotonic()
        self.process = Process(self.argv(), str(self.workdir / "qemu.out"))
        return self

    def serial(self) -> str:
        try:
            return self.serial_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def failure(self, ignore: tuple[re.Pattern[str], ...] = ()) -> str | None:
        log = self.serial()
        for pattern in FAILURE_PATTERNS:
            if pattern in ignore:
                continue
            found = pattern.search(log)
            if found is not None:
                return found.group(0)
        return None

    def describe(self) -> str:
        output = ""
        if self.process is not None:
            output = self.process.log()[-2000:]
        # The firmware draws with escape sequences; keep the text readable.
        serial = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[=>c]", "", self.serial())
        return (f"after {self.elapsed():.1f} s; qemu pid "
                f"{self.process.pid if self.process else None}; argv {self.argv_text()}\n"
                f"--- qemu output ---\n{output}\n--- serial log (last 6000 chars) ---\n"
                f"{serial[-6000:]}")

    def argv_text(self) -> str:
        return " ".join(self.process.argv) if self.process else ""

    def wait(self, done: Callable[[], bool], timeout: float, what: str,
             ignore: tuple[re.Pattern[str], ...] = (), interval: float = 0.2) -> float:
        """Seconds from start until done() held; BootFailed on a failure or the deadline."""
        assert self.process is not None, "start() the VM first"
        deadline = time.monotonic() + timeout
        while True:
            if done():
                return self.elapsed()
            problem = self.failure(ignore)
            if problem is not None:
                raise BootFailed(f"{what}: boot failed ({problem!r}) {self.describe()}")
            if not self.process.alive():
                if done():
                    return self.elapsed()
                raise BootFailed(f"{what}: QEMU exited ({self.process.popen.returncode}) "
                                 f"{self.describe()}")
            if time.monotonic() >= deadline:
                raise BootFailed(f"{what}: not done within {timeout} s {self.describe()}")
            time.sleep(interval)

    def wait_exit(self, timeout: float) -> int | None:
        """The exit code once QEMU ends (the guest powered off), or None at the deadline."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while self.process.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        return self.process.popen.poll()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop(timeout=5)

    def __enter__(self) -> NetbootVm:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

