"""libvirt for the BMC emulators: the system daemon (Debian's libvirt-daemon-system),
started by PID when none runs, and small TCG domains standing in for servers.

A domain's network is QEMU's user network given on QEMU's command line (libvirt's own
user interface can neither forward ports nor name a boot file): the machine reaches the
host's loopback as 10.0.2.2, a host port is forwarded to its agent's port, and its DHCP
answer names a boot URL (ingot's boot.ipxe), which the NIC's iPXE ROM follows when the
machine boots from the network. The NIC itself is a libvirt interface, so that a BMC
emulator can give it a boot order, whose netdev is overridden to be that network.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pathlib
import shutil
import socket
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import libvirt

from tests.servers.process import Process, unavailable, wait_until

URI = "qemu:///system"
SOCKET = pathlib.Path("/run/libvirt/libvirt-sock")
DOMAIN_PREFIX = "ingot-test-"
AGENT_PORT = 9999  # ingot's ramdisk agent inside the machine
# Held shared by every test run using the machine's libvirtd (see libvirt_daemon).
USERS = pathlib.Path(tempfile.gettempdir()) / "ingot-tests-libvirtd.lock"
_users_here: list[pathlib.Path] = []  # this process's open libvirt_daemon contexts


def _listening() -> bool:
    with socket.socket(socket.AF_UNIX) as sock:
        try:
            sock.connect(str(SOCKET))
        except OSError:
            return False
    return True


@contextlib.contextmanager
def libvirt_daemon(workdir: pathlib.Path) -> Iterator[str]:
    """The URI of a running system libvirtd; started here (and stopped) if none runs.

    The daemon is the machine's, so test runs side by side (parallel workers, other
    checkouts) share it: each holds a shared lock on USERS while it uses the daemon, and
    the run that started it stops it only once it holds that lock alone."""
    if shutil.which("libvirtd") is None and not os.path.exists("/usr/sbin/libvirtd"):
        unavailable("libvirtd is not installed (Debian libvirt-daemon-system)")
    if _users_here:  # this process holds the lock already: a second would wait for it
        _users_here.append(workdir)
        try:
            yield URI
        finally:
            _users_here.pop()
        return
    with open(USERS, "a") as users:
        fcntl.flock(users, fcntl.LOCK_EX)  # one run at a time decides to start it
        started: list[Process] = []
        try:
            if not _listening():
                if os.geteuid() != 0:
                    unavailable("starting the system libvirtd needs root")
                started.append(Process(["/usr/sbin/virtlogd"], str(workdir / "virtlogd.log")))
                started.append(Process(["/usr/sbin/libvirtd"], str(workdir / "libvirtd.log")))
                wait_until(_listening, 30, "libvirtd", interval=0.2)
            fcntl.flock(users, fcntl.LOCK_SH)
            _users_here.append(workdir)
            yield URI
        finally:
            if _users_here:
                _users_here.pop()
            if started:
                fcntl.flock(users, fcntl.LOCK_EX)  # waits for the other runs' domains
                _remove_orphans()
            for process in reversed(started):
                process.stop()


def _remove_orphans() -> None:
    """Test domains still defined once every run has let go of the daemon belong to a run
    that was killed before its teardown: stopping libvirtd would leave their QEMU
    running with no one to stop it (libvirt starts it without the run's marker)."""
    with contextlib.suppress(libvirt.libvirtError):
        connection = libvirt.open(URI)
        try:
            for domain in connection.listAllDomains():
                if not domain.name().startswith(DOMAIN_PREFIX):
                    continue
                with contextlib.suppress(libvirt.libvirtError):
                    if domain.isActive():
                        domain.destroy()
                    domain.undefine()
        finally:
            connection.close()


def domain_xml(name: str, disk: pathlib.Path, serial: pathlib.Path, mac: str,
               agent_port: int, boot_url: str, memory_mib: int = 1024) -> str:
    """A BIOS machine booting from its disk, with an empty CD drive for virtual media.
    QEMU runs as root (a per-domain DAC label): the emulator's downloaded ISO and the
    test's files sit in directories only root may enter."""
    netdev = (f"user,id=n0,bootfile={boot_url.replace(',', ',,')},"
              f"hostfwd=tcp:127.0.0.1:{agent_port}-:{AGENT_PORT}")
    return f"""<domain type='qemu' xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'>
  <name>{escape(name)}</name>
  <memory unit='MiB'>{memory_mib}</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>
  <on_reboot>restart</on_reboot>
  <seclabel type='static' model='dac' relabel='no'><label>+0:+0</label></seclabel>
  <devices>
    <emulator>{shutil.which('qemu-system-x86_64')}</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/><source file='{escape(str(disk))}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='file' device='cdrom'>
      <driver name='qemu' type='raw'/><target dev='hdc' bus='ide'/><readonly/>
    </disk>
    <interface type='user'><mac address='{mac}'/><model type='virtio'/>
      <alias name='ua-nic0'/></interface>
    <serial type='file'><source path='{escape(str(serial))}' append='on'/>
      <target port='0'/></serial>
  </devices>
  <qemu:commandline>
    <qemu:arg value='-netdev'/><qemu:arg value='{netdev}'/>
  </qemu:commandline>
  <qemu:override>
    <qemu:device alias='ua-nic0'>
      <qemu:frontend><qemu:property name='netdev' type='string' value='n0'/></qemu:frontend>
    </qemu:device>
  </qemu:override>
</domain>"""


@contextlib.contextmanager
def default_pool(uri: str, directory: pathlib.Path) -> Iterator[None]:
    """The storage pool named default, where sushy-tools' libvirt driver uploads virtual
    media: a transient one in directory if libvirt has none."""
    connection = libvirt.open(uri)
    created = None
    try:
        try:
            connection.storagePoolLookupByName("default")
        except libvirt.libvirtError:
            directory.mkdir(parents=True, exist_ok=True)
            created = connection.storagePoolCreateXML(
                f"<pool type='dir'><name>default</name><target><path>{escape(str(directory))}"
                f"</path></target></pool>", 0)
        yield
    finally:
        if created is not None:
            with contextlib.suppress(libvirt.libvirtError):
                created.destroy()
        connection.close()


class Domain:
    """A persistent libvirt domain (powered off) with a sparse disk, removed on exit."""

    def __init__(self, uri: str, workdir: pathlib.Path, mac: str, agent_port: int,
                 boot_url: str, disk_mib: int = 5 * 1024):
        self.uri = uri
        self.mac = mac
        self.agent_port = agent_port  # the host's end of the forward
        self.name = f"{DOMAIN_PREFIX}{uuid.uuid4().hex[:12]}"
        self.disk = workdir / f"{self.name}.img"
        self.serial_path = workdir / f"{self.name}.serial"
        with open(self.disk, "wb") as disk:
            disk.truncate(disk_mib << 20)
        self.xml = domain_xml(self.name, self.disk, self.serial_path, mac, agent_port,
                              boot_url)
        self.uuid = ""
        self._domain: Any = None

    def __enter__(self) -> Domain:
        self._connection = libvirt.open(self.uri)
        self._domain = self._connection.defineXML(self.xml)
        self.uuid = str(self._domain.UUIDString())
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            if self._domain.isActive():
                self._domain.destroy()
        with contextlib.suppress(Exception):
            self._domain.undefine()
        self._connection.close()

    def active(self) -> bool:
        return bool(self._domain.isActive())

    def boot_devices(self) -> list[str]:
        """The os/boot devices of the domain's persistent definition, in order."""
        tree = ElementTree.fromstring(self._domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        return [boot.get("dev", "") for boot in tree.findall("./os/boot")]

    def device_boot_order(self) -> list[str]:
        """The devices given a per-device boot order (how sushy-tools' libvirt driver sets
        the boot device) in the persistent definition, first first: network, hd, cdrom."""
        tree = ElementTree.fromstring(self._domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
        ordered = []
        for device in tree.iterfind("./devices/*"):
            boot = device.find("boot")
            if boot is None:
                continue
            kind = "network" if device.tag == "interface" else device.get("device", "")
            ordered.append((int(boot.get("order", "0")), "hd" if kind == "disk" else kind))
        return [kind for _, kind in sorted(ordered)]

    def serial(self, since: int = 0) -> str:
        """The serial console's output, from offset since (a length read earlier on)."""
        return self.serial_path.read_text(errors="replace")[since:] \
            if self.serial_path.exists() else ""

