"""What of the Debian root is left out of the initramfs: nothing the agent runs."""

from __future__ import annotations

import re

_DROPPED = re.compile(r"""^(
    usr/share/(doc|man|info|locale|i18n|lintian|perl5?|common-licenses|bash-completion
               |zsh|debconf|pixmaps|menu|gcc|gdb|bug|zoneinfo|misc)(/|$)
  | usr/lib/x86_64-linux-gnu/(perl|perl-base|perl5|gconv)(/|$)
  | usr/lib/locale(/|$)
  | usr/bin/perl[^/]*$
  | usr/lib/udev/hwdb\.(bin|d)(/|$)
  | var/lib/dpkg/info/.*\.(md5sums|list)$
  | var/cache/(debconf|apt|ldconfig)(/|$)
  | var/lib/apt/lists(/|$)
  | var/log/.+
  | usr/lib/python3\.\d+/(test|idlelib|tkinter|turtledemo|lib2to3|ensurepip|pydoc_data
                         |config-[^/]*)(/|$)
  | usr/bin/qemu-(io|nbd|storage-daemon)$
  | .*/__pycache__(/|$)
  | .*\.pyc$
)""", re.VERBOSE)


def keep(path: str) -> bool:
    """Whether the root's ``path`` (relative, no leading ./ or /) goes into the ramdisk."""
    return not _DROPPED.match(path)
