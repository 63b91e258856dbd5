"""libvirt for the BMC emulators: the system daemon (Debian's libvirt-daemon-system),
started by PID when none runs, and small TCG domains standing in for servers.

A domain's network is QEMU's user network given on QEMU's command line (libvirt's own
user interface cannot forward ports before libvirt 9.x with passt): the machine reaches
the host's loopback as 10.0.2.2, and a host port is forwarded to its agent's port.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import socket
import tempfile
from collections.abc import Iterator
from xml.sax.saxutils import escape

from tests.servers.process import Process, unavailable, wait_until

URI = "qemu:///system"
SOCKET = pathlib.Path("/run/libvirt/libvirt-sock")
AGENT_PORT = 9999  # ingot's ramdisk agent inside the machine


def _listening() -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(SOCKET))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def libvirt_daemon(workdir: pathlib.Path) -> Iterator[str]:
    """The URI of a running system libvirtd; started here (and stopped) if none runs."""
    if shutil.which("libvirtd") is None and not os.path.exists("/usr/sbin/libvirtd"):
        unavailable("libvirtd is not installed (Debian libvirt-daemon-system)")
    started: list[Process] = []
    if not _listening():
        if os.geteuid() != 0:
            unavailable("starting the system libvirtd needs root")
        started.append(Process(["/usr/sbin/virtlogd"], str(workdir / "virtlogd.log")))
        started.append(Process(["/usr/sbin/libvirtd"], str(workdir / "libvirtd.log")))
        wait_until(_listening, 30, "libvirtd", interval=0.2)
    try:
        yield URI
    finally:
        for process in reversed(started):
            process.stop()


def vm_directory() -> pathlib.Path:
    """A directory QEMU (run by libvirt as libvirt-qemu) can reach: pytest's are 0700."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="ingot-vm-", dir="/var/tmp"))
    path.chmod(0o755)
    return path


def domain_xml(name: str, disk: pathlib.Path, serial: pathlib.Path, mac: str,
               agent_port: int, memory_mib: int = 1024) -> str:
    """A BIOS machine booting from its disk, with an empty CD drive for virtual media."""
    netdev = f"user,id=n0,hostfwd=tcp:127.0.0.1:{agent_port}-:{AGENT_PORT}"
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_reboot>restart</on_reboot>
  <devices>
    <emulator>{shutil.which('qemu-system-x86_64')}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='{escape(str(disk))}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/><target dev='hdc' bus='ide'/><readonly/>
    </disk>
    <serial type='file'><source path='{escape(str(serial))}' append='on'/>
      <target port='0'/></serial>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/><qemu:arg value='{netdev}'/>
    <qemu:arg value='-device'/><qemu:arg value='virtio-net-pci,netdev=n0,mac={mac}'/>
  </qemu:commandline>
</domain>"""
