"""Progress lines for commands that wait (TAP queries, downloads)."""

from __future__ import annotations

import re
from typing import TextIO


class ProgressLine:
    """Progress lines on a stream: rewritten in place on a terminal, else one line per
    change (repeated job polls collapse)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last = ""
        self._width = 0

    def __call__(self, message: str) -> None:
        if self.tty:
            self.stream.write("\r" + message.ljust(self._width))
            self._width = len(message)
        else:
            key = re.sub(r"\(\d+ s\)", "", message)
            if key == self._last:
                return
            self._last = key
            self.stream.write(message + "\n")
        self.stream.flush()

    def close(self) -> None:
        """End an in-place line."""
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
