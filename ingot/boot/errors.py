"""Errors of the boot library. Each names the field (or option) it is about."""

from __future__ import annotations


class BootConfigError(ValueError):
    """A value cannot go into an iPXE script or a kernel command line safely.

    ``field`` names where the value came from (``instance_info.kernel_append_params``,
    ``deploy_kernel URL``, ``[pxe] pxe_config_subdir``...), so the operator can fix it;
    the message never contains secrets such as temp URL signatures.
    """

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class UrlExpiresTooSoon(BootConfigError):
    """A temporary URL would expire while the machine may still fetch it."""
