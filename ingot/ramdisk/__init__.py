"""The deploy ramdisk: a Debian kernel and an initramfs that runs ``ingot agent``.

``build.build`` makes it from Debian's packages and PyPI only, cached by its inputs.
"""
