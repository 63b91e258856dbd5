"""A one-line progress bar for the terminal, fed with the agent's reported progress."""

from __future__ import annotations

import sys
from typing import Any, TextIO

MIB = 1024 * 1024


def bar(progress: dict[str, Any], width: int = 30) -> str:
    done = int(progress.get("bytes_done") or 0)
    total = int(progress.get("bytes_total") or 0)
    rate = float(progress.get("bytes_per_second") or 0)
    fraction = done / total if total else 0.0
    filled = int(width * fraction)
    return (f"[{'#' * filled}{'.' * (width - filled)}] {fraction * 100:5.1f}%  "
            f"{done / MIB:7.1f}/{total / MIB:.1f} MiB  {rate / MIB:6.0f} MiB/s  "
            f"{progress.get('stage', '')}")


class Line:
    """Rewrites one terminal line; prints plain lines when not on a terminal."""

    def __init__(self, stream: TextIO = sys.stderr):
        self.stream = stream
        self.tty = stream.isatty()
        self.last = ""

    def show(self, text: str) -> None:
        if text == self.last:
            return
        self.last = text
        if self.tty:
            self.stream.write("\r" + text.ljust(79))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def end(self) -> None:
        if self.tty and self.last:
            self.stream.write("\n")
            self.stream.flush()
        self.last = ""
