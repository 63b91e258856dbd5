"""Config drive build time: build_iso + encode of a drive with 1 MiB of user_data.

    python bench/configdrive.py [--runs N]

The user_data is base64 text of seeded random bytes (like a cloud-config embedding files
or certificates): it compresses about as real user data does, and the same every run.
Prints the median and spread of the runs, and the sizes of the ISO and of the string a
client sends.
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import time

from ingot.configdrive.build import build_iso, encode

USER_DATA_SIZE = 1024 * 1024


def user_data() -> bytes:
    rng = random.Random(4)
    text = b"#cloud-config\nwrite_files:\n- path: /etc/blob\n  content: |\n"
    body = base64.encodebytes(rng.randbytes(USER_DATA_SIZE))
    return (text + body)[:USER_DATA_SIZE]


def build_once(data: bytes) -> tuple[float, int, int]:
    start = time.perf_counter()
    iso = build_iso(meta_data={"hostname": "bench", "public_keys": {"k": "ssh-ed25519 AAAA"}},
                    user_data=data,
                    network_data={"links": [], "networks": [], "services": []},
                    vendor_data={"cloud-init": "#cloud-config\n"},
                    node_uuid="7d4b5c8a-2f0e-4c55-9d0c-3f2a1b6e9a10", node_name="bench-node")
    encoded = encode(iso)
    return time.perf_counter() - start, len(iso), len(encoded)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    data = user_data()
    build_once(data)  # warm-up: imports, first allocation of the buffers
    runs = [build_once(data) for _ in range(args.runs)]
    times = sorted(seconds for seconds, _, _ in runs)
    _, iso_size, encoded_size = runs[0]
    print(f"config drive with {len(data)} bytes of user_data, {args.runs} runs")
    print(f"build_iso + encode: median {statistics.median(times) * 1000:.1f} ms "
          f"(min {times[0] * 1000:.1f} ms, max {times[-1] * 1000:.1f} ms)")
    print(f"ISO: {iso_size} bytes; gzip+base64 string: {encoded_size} characters")


if __name__ == "__main__":
    main()
