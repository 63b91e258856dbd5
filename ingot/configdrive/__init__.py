"""Config drives: the OpenStack ``config-2`` ISO that cloud-init reads on the node.

Three callers, one module each:

* the API checks what a client sends: ``check.check(configdrive)`` (and
  ``check.check_json`` for the JSON form);
* the conductor builds an ISO from JSON: ``build.build_iso(...)`` then ``build.encode``;
* the agent writes it to the node's disk: ``partition.write_config_drive(...)``.

Behind those: ``errors`` (every error a client can cause carries the HTTP status to
answer), ``fslabel`` (ISO 9660 and FAT labels from raw bytes) and ``disk`` (the
partition table, through sfdisk). A drive given as a URL is downloaded by the agent, on
its image download path (agent/download.py).

Config drives hold user secrets (passwords, keys in user_data): nothing here logs their
contents, only sizes, partition numbers and URLs without their query strings.
"""

from __future__ import annotations

MiB = 1024 * 1024

# The label cloud-init and cloudbase-init look for (blkid LABEL=config-2, or CONFIG-2 on FAT).
LABEL = "config-2"

# The largest decompressed drive accepted anywhere: the agent's partition limit, which is
# also Ironic's (MAX_CONFIG_DRIVE_SIZE_MB) and its provision request body limit.
MAX_SIZE = 64 * MiB

# The largest gzip payload (after base64 decoding) the API accepts.
MAX_COMPRESSED_SIZE = 64 * MiB

# The most the agent downloads for a drive given as a URL: the base64 text of a 64 MiB
# drive that does not compress, with line breaks, fits.
MAX_DOWNLOAD_SIZE = 128 * MiB
