"""The trust boundary: data-only messages, strict decoding, an isolated worker."""

from __future__ import annotations

import os
import re

import numpy as np
import pytest
import torch
from conftest import ROOT

from grader.sandbox import wire
from grader.sandbox.client import StudentError, Worker, WorkerDied, WorkerTimeout
from grader.sandbox.limits import Limits


def roundtrip(value):
    enc = wire.Encoder()
    obj = enc.encode(value)
    frame = wire.pack({"value": obj}, enc.tensors)
    r, w = os.pipe()
    try:
        wire.write_frame(w, frame)
        header, tensors = wire.read_frame(r)
    finally:
        os.close(r)
        os.close(w)
    return wire.Decoder(tensors).decode(header["value"])


def test_values_roundtrip_as_data():
    value = {"t": torch.arange(6).view(2, 3).t(), "a": np.float32(1.5), "n": np.zeros((2, 0)),
             "s": (torch.Size([2, 3]), [1, 2.5, None, "x", float("nan")]), 3: torch.tensor(True),
             "d": torch.float16, "scalar": np.array(2.0)}
    out = roundtrip(value)
    assert torch.equal(out["t"], value["t"]) and out["t"].is_contiguous()
    assert isinstance(out["a"], np.float32) and out["a"] == 1.5
    assert out["n"].shape == (2, 0)
    assert out["s"][0] == (2, 3) and out["s"][1][:4] == [1, 2.5, None, "x"]
    assert np.isnan(out["s"][1][4])
    assert out[3].dtype == torch.bool and out["d"] is torch.float16
    assert out["scalar"].shape == ()


def test_shared_storage_and_subclasses_become_plain_tensors():
    base = torch.arange(4.0)
    out = roundtrip((base, base[1:], torch.nn.Parameter(torch.ones(2))))
    assert [type(t) for t in out] == [torch.Tensor] * 3
    assert torch.equal(out[1], torch.tensor([1.0, 2, 3]))


@pytest.mark.parametrize("bad", [{"$pickle": "gASV"}, {"$tensor": "missing"}, {"$dtype": "os"},
                                 {"$float": "1e999"}, {"$npscalar": "object", "value": 1}, {}])
def test_decoder_rejects_anything_else(bad):
    with pytest.raises(wire.WireError):
        wire.Decoder({}).decode(bad)


def test_oversized_frame_is_refused():
    r, w = os.pipe()
    try:
        os.write(w, wire.HEADER.pack(10, 10_000))
        with pytest.raises(wire.WireError):
            wire.read_frame(r, max_blob=100)
    finally:
        os.close(r)
        os.close(w)


def test_no_pickle_anywhere_in_the_grader():
    pattern = re.compile(r"(import|from)\s+(pickle|dill|cloudpickle|marshal)\b"
                         r"|\b(pickle|dill|cloudpickle|marshal)\.|allow_pickle=True|torch\.load\(")
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in (ROOT / "grader").rglob("*.py")
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert not hits, hits


@pytest.fixture(scope="module")
def worker():
    w = Worker(Limits(call_timeout_s=10))
    w.start()
    w.ping()
    yield w
    w.close()


def test_worker_cannot_import_the_grader_and_sees_only_its_folder(worker):
    runs = worker.exec_cells(["import grader", "import os\nlisting = sorted(os.listdir('.'))",
                              "env_keys = sorted(os.environ)"])
    assert runs[0]["error"]["type"] == "ModuleNotFoundError"
    listing = worker.call({"name": "listing", "attr": "copy"})
    # A read-only bind whose path lies under /tmp (a venv in /tmp/...) needs its parent
    # folders as mount points in the sandbox's /tmp: those empty folders are expected.
    import sys
    from pathlib import Path

    from grader.sandbox import isolation

    parents = set()
    if worker.sandboxed:
        for src in isolation.read_only_sources(worker.limits, sys.executable):
            rel = Path(src).relative_to("/tmp") if Path(src).is_relative_to("/tmp") else None
            if rel is not None and rel.parts:
                parents.add(rel.parts[0])
    assert set(listing) <= {".ipython", ".cache", ".config"} | parents, listing
    keys = worker.call({"name": "env_keys", "attr": "copy"})
    assert not [k for k in keys if k.startswith("GRADER_") or k.startswith("NBGRADER_DB")], keys


def test_worker_keeps_packages_on_pythonpath_outside_the_course(tmp_path, monkeypatch):
    # The GPU runner installs IPython and friends with `pip --target /tmp/site` and names
    # that folder in PYTHONPATH next to the checkout: the worker needs the first, never the second.
    site = tmp_path / "site"
    site.mkdir()
    (site / "runner_extra.py").write_text("VALUE = 42\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(site), str(ROOT)]))
    with Worker(Limits(call_timeout_s=20)) as w:
        runs = w.exec_cells(["import runner_extra\nvalue = runner_extra.VALUE", "import grader"])
        assert runs[0]["ok"], runs[0]
        assert w.call({"name": "value", "attr": "__int__"}) == 42
        assert runs[1]["error"]["type"] == "ModuleNotFoundError"


def test_worker_env_keeps_the_machines_loader_path_but_not_the_graders_settings(monkeypatch):
    from grader.sandbox.limits import worker_env, worker_settings

    monkeypatch.setenv("LD_LIBRARY_PATH", "/usr/local/nvidia/lib64")  # where GPU images put libcuda
    monkeypatch.setenv("GRADER_EVAL_SEED", "99")
    monkeypatch.setenv("NBGRADER_DB_URL", "sqlite:///gradebook.db")
    env = worker_env(Limits(cuda_device="1", cuda_memory_fraction=0.125), "/tmp/w")
    assert env["LD_LIBRARY_PATH"] == "/usr/local/nvidia/lib64"
    assert env["CUDA_VISIBLE_DEVICES"] == "1"
    assert '"cuda_memory_fraction": 0.125' in worker_settings(Limits(cuda_memory_fraction=0.125))
    assert not {"GRADER_EVAL_SEED", "NBGRADER_DB_URL"} & set(env)


def test_student_errors_keep_their_builtin_type(worker):
    worker.exec_cells(["def boom(x):\n    raise ValueError(f'bad {x}')"])
    with pytest.raises(ValueError) as info:
        worker.call({"name": "boom"}, (3,))
    assert isinstance(info.value, StudentError) and "bad 3" in str(info.value)


def test_callbacks_see_in_place_changes(worker):
    worker.exec_cells(["def bump_and_call(f, p):\n    p += 1\n    return f()"])
    p = torch.zeros(3)
    assert worker.call({"name": "bump_and_call"}, (lambda: p.sum(), p), sync=True) == pytest.approx(3.0)
    q = torch.zeros(3)   # without sync=True the trusted tensor is never written to
    assert worker.call({"name": "bump_and_call"}, (lambda: q.sum(), q)) == pytest.approx(0.0)


def test_unsendable_results_stay_in_the_worker(worker):
    worker.exec_cells(["class Box:\n    def __init__(self):\n        self.v = 5\n"
                       "    def twice(self):\n        return self.v * 2"])
    box = worker.call({"name": "Box"})
    assert box.v == 5 and box.twice() == 10
    with pytest.raises(TypeError):
        box.v = 6


def test_timeouts_and_deaths_become_exceptions():
    with Worker(Limits(call_timeout_s=2)) as w:
        w.exec_cells(["import os\ndef spin():\n    while True:\n        pass\n"
                      "def die():\n    os._exit(7)"])
        with pytest.raises(WorkerTimeout):
            w.call({"name": "spin"})
        assert not w.alive
    with Worker(Limits(call_timeout_s=10)) as w:
        w.exec_cells(["import os\ndef die():\n    os._exit(7)"])
        with pytest.raises(WorkerDied, match="status 7"):
            w.call({"name": "die"})


def test_memory_limit_turns_a_huge_allocation_into_an_error():
    with Worker(Limits(call_timeout_s=20, memory_bytes=6 * 1024**3)) as w:
        w.exec_cells(["import torch\ndef hog():\n    return torch.ones(4 * 1024**3).sum()"])
        with pytest.raises((StudentError, WorkerDied)):
            w.call({"name": "hog"})
