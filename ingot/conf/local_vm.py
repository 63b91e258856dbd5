"""[local_vm] options: the virtual nodes of the local-vm hardware type."""

from oslo_config import cfg

group = cfg.OptGroup("local_vm", title="local-vm virtual nodes")

opts = [
    cfg.ListOpt("disk_paths", default=["$state_path/vms"],
                help="Directories where a local-vm node's vm_disk may be; the agent "
                     "writes images into that file."),
    cfg.FloatOpt("agent_heartbeat_interval", default=2.0,
                 help="Seconds between heartbeats of a local-vm node's agent."),
    cfg.IntOpt("default_disk_size", default=1024,
               help="Size in MiB of a vm_disk file that does not exist yet."),
    cfg.StrOpt("qemu_accel", default="tcg", choices=("tcg", "kvm"),
               help="How qemu-vm machines run: tcg, QEMU's software emulation, which works "
                    "everywhere; kvm, the host's hardware virtualisation (/dev/kvm), "
                    "several times faster."),
    cfg.StrOpt("agent_command", default="",
               help="The command that \"boots the ramdisk\" of a local-vm node when it "
                    "powers on from the network, and that powering off stops (with its "
                    "process group). Empty: ingot's own agent. Otherwise a command line, "
                    "split as a shell would (no shell runs it), in which {api_url}, "
                    "{node_uuid}, {macs} (comma-separated), {disk} (the vm_disk file), "
                    "{heartbeat_interval} and {inspection_callback_url} (where to post the "
                    "inventory when inspecting, else empty) are replaced; it must name "
                    "{node_uuid}. For instance a script that starts ironic-python-agent in "
                    "a network namespace writing to a loop device over the disk file."),
]


def register(conf: cfg.ConfigOpts) -> None:
    conf.register_group(group)
    conf.register_opts(opts, group=group)


def list_opts() -> list[tuple[cfg.OptGroup, list[cfg.Opt]]]:
    return [(group, opts)]
