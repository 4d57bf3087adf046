"""GPU runner checks (skipped where CUDA is absent; scripts/gpu_check.sh runs them there)."""

from __future__ import annotations

import nbformat
import pytest

from grader import config
from grader.grade.runner import grade_notebook
from grader.samples import build_submission
from grader.sandbox.client import Worker

pytestmark = pytest.mark.gpu


def test_worker_gets_a_gpu_slot_and_a_memory_share():
    limits = config.limits_for(config.PROFILES["gpu"], cuda_slot="0", memory_fraction=0.25)
    with Worker(limits) as w:
        w.exec_cells(["import torch, os\nx = torch.ones(1, device='cuda')"])
        visible = w.call({"name": "os", "attr": "getenv"}, ("CUDA_VISIBLE_DEVICES",))
        assert visible == "0"
        total = w.call({"name": "torch", "attr": "cuda"}).get_device_properties(0).total_memory
        runs = w.exec_cells([f"y = torch.empty({int(total * 0.5)}, dtype=torch.uint8, device='cuda')"])
        assert not runs[0]["ok"], "a worker allocated more than its memory share"
        assert "memory" in runs[0]["error"]["message"].lower()


def test_reference_passes_on_the_gpu_profile(tmp_path):
    path = tmp_path / "reference.ipynb"
    nbformat.write(build_submission("ps5_mnist_cnn"), path)
    result = grade_notebook(path, "ps5_mnist_cnn", device="cuda")
    assert result.profile == "gpu"
    assert result.score == result.max_score, [(t.name, t.output) for t in result.tests if not t.passed]


def test_a_batch_on_cuda_gives_each_worker_its_own_share(tmp_path):
    from grader.autograde.batch import Task, grade_all

    tasks = []
    for student in ("ada", "bo", "cy"):
        path = tmp_path / student / "ps1_tensors.ipynb"
        path.parent.mkdir()
        nbformat.write(build_submission("ps1_tensors"), path)
        tasks.append(Task(student, path, tmp_path / f"{student}.json"))
    results = grade_all(tasks, "ps1_tensors", jobs=3, device="cuda", progress=False)
    shares = [r.gpu_slot for r in results.values()]
    assert all(r.profile == "gpu" and r.score == r.max_score for r in results.values())
    assert len({(s["device"], s["share"]) for s in shares}) == 3  # three workers, three shares
    assert all(0 < s["memory_fraction"] <= 1 / 3 for s in shares)


def test_a_sandboxed_worker_trains_on_the_gpu():
    # Issue 9: inside bubblewrap, with the NVIDIA device nodes bound, a worker still trains
    # on the GPU (and still sees nothing of the course).
    limits = config.limits_for(config.PROFILES["gpu"], cuda_slot="0", memory_fraction=0.25)
    with Worker(limits) as w:
        assert w.sandboxed
        runs = w.exec_cells([
            "import os, torch\n"
            "model = torch.nn.Linear(10, 1).cuda()\n"
            "opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
            "x, y = torch.randn(256, 10, device='cuda'), torch.randn(256, 1, device='cuda')\n"
            "losses = []\n"
            "for _ in range(50):\n"
            "    loss = torch.nn.functional.mse_loss(model(x), y)\n"
            "    opt.zero_grad(); loss.backward(); opt.step(); losses.append(loss.item())\n"
            "on_gpu = int(next(model.parameters()).is_cuda)\n"
            "learned = int(losses[-1] < losses[0])\n"
            f"sees_course = int(os.path.exists({str(config.__file__)!r}))"])
        assert runs[0]["ok"], runs[0]
        for name, want in (("on_gpu", 1), ("learned", 1), ("sees_course", 0)):
            assert w.call({"name": name, "attr": "__int__"}) == want, name
