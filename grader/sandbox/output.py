"""The worker's raw stdout and stderr, drained by a thread and kept within a cap."""

from __future__ import annotations

import os
import threading
from typing import Any


class OutputTail:
    """Drains the worker's raw stdout/stderr, keeping its first and last bytes up to a cap.

    A thread reads the pipe to its end so that a worker printing without pause never
    blocks on a full pipe, and never fills the grader's memory or disk either.
    """

    def __init__(self, fd: int, cap: int) -> None:
        self.cap, self.head, self.tail, self.total = cap, bytearray(), bytearray(), 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._drain, args=(fd,), daemon=True)
        self._thread.start()

    def _drain(self, fd: int) -> None:
        half = self.cap // 2
        try:
            while chunk := os.read(fd, 1 << 16):
                with self._lock:
                    self.total += len(chunk)
                    room = half - len(self.head)
                    if room > 0:
                        self.head += chunk[:room]
                        chunk = chunk[room:]
                    self.tail = (self.tail + chunk)[-half:]
        except OSError:
            pass
        finally:
            os.close(fd)

    def join(self, timeout: float = 5.0) -> None:
        self._thread.join(timeout)

    def text(self) -> str:
        with self._lock:
            dropped = self.total - len(self.head) - len(self.tail)
            middle = f"\n[... {dropped} bytes of worker output dropped ...]\n".encode() if dropped > 0 else b""
            return (bytes(self.head) + middle + bytes(self.tail)).decode(errors="replace")


def cell_outcome(run: dict, output_chars: int) -> dict:
    """One cell's outcome as the worker reported it, checked and capped here."""
    cap = output_chars + 200   # room for the worker's own "dropped" note

    def text(value: Any) -> str:
        value = value if isinstance(value, str) else ""
        return value if len(value) <= cap else value[:cap] + "\n[... output cut by the grader ...]\n"

    err = run.get("error")
    error = None
    if isinstance(err, dict):
        error = {"type": text(err.get("type"))[:100] or "Error",
                 "message": text(err.get("message"))[:2000]}
    elif run.get("ok") is not True:
        error = {"type": "Error", "message": "the cell failed"}
    seconds = run.get("seconds")
    return {"ok": error is None, "error": error, "stdout": text(run.get("stdout")),
            "stderr": text(run.get("stderr")),
            "seconds": float(seconds) if isinstance(seconds, (int, float)) else 0.0}
