"""Starts the real ironic-python-agent (run by the agent's own venv, inside the test's
network namespace) with one hardware manager of the test's own.

The manager is IPA's GenericHardwareManager with three things narrowed to what the
test gives the "machine", so the agent never touches the host's disks or network:
its only disk is INGOT_IPA_DISK (a loop device), its only NIC INGOT_IPA_INTERFACE
(the namespace's veth, carrying the node's port MAC), its start-up skips the
host-wide work (iSCSI, mdadm assembly, IPMI and multipath kernel modules), and it
describes itself instead of running lshw (not installed here) for the inventory. Its auto
TLS certificate goes into INGOT_IPA_RUN_DIR instead of /run/ironic-python-agent, which
agents of concurrent test runs would share. Everything else (lookup, heartbeats, the
command API, prepare_image, the config drive, the clean steps) is IPA's own code.

The agent is listed as the only hardware manager (instead of through an entry point
beside the generic one) because loading the generic one runs its host-wide start-up.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

# The agent's command module first: it registers the options the others read.
from ironic_python_agent.cmd import agent  # isort: skip
from ironic_python_agent import hardware, tls_utils  # isort: skip

DISK = os.environ["INGOT_IPA_DISK"]
INTERFACE = os.environ["INGOT_IPA_INTERFACE"]
RUN_DIR = os.environ["INGOT_IPA_RUN_DIR"]


class TestMachineHardwareManager(hardware.GenericHardwareManager):
    HARDWARE_MANAGER_NAME = "TestMachineHardwareManager"
    HARDWARE_MANAGER_VERSION = "1.0"

    def evaluate_hardware_support(self) -> int:
        return hardware.HardwareSupport.SERVICE_PROVIDER

    def initialize(self) -> None:
        hardware.MULTIPATH_ENABLED = False

    def _get_system_lshw_dict(self) -> dict[str, object]:
        # No lshw here: the machine describes itself (IPA's inventory falls back).
        return {"id": "ingot-test-machine", "children": []}

    def list_network_interfaces(self) -> list[hardware.NetworkInterface]:
        return [self.get_interface_info(INTERFACE)]

    def list_block_devices(self, include_partitions: bool = False,
                           all_serial_and_wwn: bool = False) -> list[hardware.BlockDevice]:
        size = int(subprocess.run(["blockdev", "--getsize64", DISK], check=True,
                                  capture_output=True, text=True).stdout)
        devices = [hardware.BlockDevice(name=DISK, model="ingot test loop disk", size=size,
                                        rotational=False, vendor="ingot",
                                        serial=os.path.basename(DISK),
                                        logical_sectors=512, physical_sectors=512)]
        if include_partitions:
            devices += [device for device in
                        hardware.list_all_block_devices(block_type="part", ignore_raid=True)
                        if device.name.startswith(DISK + "p")]
        return devices

    def get_os_install_device(self, permit_refresh: bool = False) -> str:
        return DISK

    def get_skip_list_from_node_for_disks(self, node, block_devices=None):  # type: ignore
        return None

    def generate_tls_certificate(self, ip_address: str) -> tls_utils.TlsCertificate:
        cert_path = os.path.join(RUN_DIR, "agent.crt")
        key_path = os.path.join(RUN_DIR, "agent.key")
        content = tls_utils._generate_tls_certificate(cert_path, key_path,
                                                      "ingot-test-machine", ip_address)
        return tls_utils.TlsCertificate(content, cert_path, key_path)


def main() -> None:
    # Powering off kills the process group with SIGTERM. As the first process of its
    # PID namespace the agent would ignore it; for a machine, it is the power cut.
    signal.signal(signal.SIGTERM, lambda number, frame: os._exit(143))
    args = sys.argv[1:]
    # --machine NODE_UUID only names the node on the command line, for the conductor
    # that finds its process by it; IPA does not take it.
    if args[:1] == ["--machine"]:
        args = args[2:]
    manager = TestMachineHardwareManager()
    manager.initialize()
    hardware._global_managers = [{"name": manager.__class__.__name__, "manager": manager,
                                  "support": manager.evaluate_hardware_support()}]
    sys.argv = ["ironic-python-agent", *args]
    agent.run()


if __name__ == "__main__":
    main()
