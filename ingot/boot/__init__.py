"""iPXE network boot: chain script, per-node configs, kernel parameters, HTTP root.

* ipxe.py: IpxeBoot, what a conductor's boot interface calls (prepare_deploy,
  prepare_local_boot, clean_up);
* render.py: the Jinja2 templates (templates/*.ipxe.j2) rendered into scripts;
* kernel_params.py: the deploy ramdisk's kernel command line;
* checks.py: what may go into a script (refused, never escaped);
* http_root.py, files.py: the on-disk layout and atomic writes;
* sources.py: temp URLs vs cached files; settings.py: [pxe] and [deploy] options.
"""

from ingot.boot.errors import BootConfigError, UrlExpiresTooSoon
from ingot.boot.ipxe import IpxeBoot, NodeBoot, PreparedBoot
from ingot.boot.kernel_params import KernelCommandLine, build_kernel_params, node_kernel_params
from ingot.boot.render import (
    RenderedConfig,
    render_boot_script,
    render_deploy_config,
    render_local_boot_config,
)
from ingot.boot.settings import PxeSettings
from ingot.boot.sources import BootUrl, CachedFile, ExpiringUrl

__all__ = [
    "BootConfigError",
    "BootUrl",
    "CachedFile",
    "ExpiringUrl",
    "IpxeBoot",
    "KernelCommandLine",
    "NodeBoot",
    "PreparedBoot",
    "PxeSettings",
    "RenderedConfig",
    "UrlExpiresTooSoon",
    "build_kernel_params",
    "node_kernel_params",
    "render_boot_script",
    "render_deploy_config",
    "render_local_boot_config",
]
