"""Issue 9: a batch of attacks on the worker sandbox, mixed with honest submissions.

One course batch grades every attack in ``tests/attacks`` next to two reference
submissions and a blank one, two workers at a time. Afterwards: every attack scored 0 and
leaked nothing, nothing outside the workers changed, no process of theirs is left, and
the honest submissions scored exactly what they score alone.
"""

from __future__ import annotations

import os
import sysconfig
import time
from pathlib import Path

import pytest
from attacks import ATTACKS, PRELUDE, edit_locked_cells
from conftest import ROOT, make_course, settings_for

from grader import config
from grader.autograde.batch import find_tasks, grade_all
from grader.config import Settings
from grader.course import Course
from grader.grade.runner import grade_notebook
from grader.samples import build_submission, write_submission
from grader.sandbox import isolation

PS = "ps1_tensors"
SITE = sysconfig.get_paths()["purelib"]
# Host uids of this batch's own (used when the grader is root): whatever survives the batch
# still runs under one of them, wherever it hid, and no other test's workers do.
BATCH_UID = 700_000 + (os.getpid() % 1000) * 16
PROFILE = config.PROFILES["cpu"].with_limits(
    # Short enough that the stalling attacks end quickly, long enough that the honest
    # submissions finish on an oversubscribed machine (5 s and 45 s did not, under load).
    call_timeout_s=10.0, cell_timeout_s=12.0, notebook_timeout_s=40.0, submission_timeout_s=60.0,
    memory_bytes=4 * 1024**3,
    host_uid=BATCH_UID, host_uids=16)
HONEST = ("honest-1", "honest-2")

pytestmark = pytest.mark.skipif(not isolation.available(), reason=f"no sandbox: {isolation.probe()}")


def _fill(text: str, course: Path, mark: str) -> str:
    for key, value in (("@COURSE@", str(course)), ("@REPO@", str(ROOT)), ("@SITE@", SITE),
                       ("@DATA@", str(Settings.from_env().data_root.resolve())), ("@MARK@", mark)):
        text = text.replace(key, value)
    return text


def _fingerprint(*roots: Path, skip: tuple[Path, ...] = ()) -> dict[str, tuple[int, int]]:
    out = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            if any(Path(dirpath).is_relative_to(s) for s in skip):
                dirs[:] = []
                continue
            dirs[:] = [d for d in dirs if d not in ("__pycache__", ".pytest_cache")]
            for name in files:
                st = os.lstat(os.path.join(dirpath, name))
                out[os.path.join(dirpath, name)] = (st.st_size, st.st_mtime_ns)
    return out


def _listing(*dirs: str) -> set[str]:
    return {os.path.join(d, n) for d in dirs if os.path.isdir(d) for n in os.listdir(d)}


def _worker_processes(marks: list[str]) -> list[str]:
    """Processes of this batch still alive: its host uid (as root) or its attacks' markers."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            uids = next(line.split()[1:] for line in status if line.startswith("Uid:"))
            state = next(line.split()[1] for line in status if line.startswith("State:"))
        except (OSError, StopIteration):
            continue
        if state == "Z":  # already dead, waiting for the host's init to reap it
            continue
        mine = (any(BATCH_UID <= int(u) < BATCH_UID + 16 for u in uids) if os.geteuid() == 0
                else isolation.CODE in cmd)
        if mine or any(m in cmd for m in marks):
            found.append(f"{pid}: {cmd[:120]}")
    return found


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    course = make_course(tmp_path_factory.mktemp("attacked") / "course", [PS])
    (course / "gradebook.db").write_bytes(b"SQLite format 3\0 not a real gradebook")
    (course / "secrets").mkdir()
    (course / "secrets" / "eval_seed").write_text("424242\n")
    for student in HONEST:
        write_submission(build_submission(PS), course, student, PS)
    write_submission(build_submission(PS, answers="blank"), course, "blank", PS)
    marks = {}
    for attack in ATTACKS:
        mark = f"attack{abs(hash(attack.id)) % 10**8}x{os.getpid()}"
        marks[attack.id] = mark
        code = _fill(PRELUDE + "\n" + attack.code, course, mark)
        replace = {"rank_and_shape": code}
        if attack.later:
            replace["take_columns"] = attack.later
        nb = build_submission(PS, answers="blank", replace=replace)
        write_submission(nb, course, f"attack-{attack.id}", PS)
    locked = build_submission(PS, answers="blank")
    edit_locked_cells(locked)
    write_submission(locked, course, "attack-edit-locked-cells", PS)

    alone = grade_notebook(course / "submitted" / HONEST[0] / PS / f"{PS}.ipynb", PS,
                           profile=PROFILE, settings=settings_for(Course(course)))
    results_dir = Course(course).results_dir(PS)
    watched = (course, ROOT / "grader", ROOT / "source", ROOT / "release")
    before = _fingerprint(*watched, skip=(results_dir,))
    env_before = _listing(SITE, os.path.join(SITE, "torch", "__pycache__"),
                          os.path.join(__import__("sys").base_prefix, "lib", "python3.11"))
    tmp_before = _listing("/tmp", os.path.expanduser("~"), "/var/tmp")

    start = time.perf_counter()
    tasks = find_tasks(Course(course), PS)
    # The grader holds the secret seed in its environment, as an instructor may run it.
    before_seed = os.environ.get("GRADER_EVAL_SEED")
    os.environ["GRADER_EVAL_SEED"] = "424242"
    try:
        results = grade_all(tasks, PS, jobs=2, profile=PROFILE, settings=settings_for(Course(course)), progress=False)
    finally:
        if before_seed is None:
            os.environ.pop("GRADER_EVAL_SEED")
        else:
            os.environ["GRADER_EVAL_SEED"] = before_seed
    seconds = time.perf_counter() - start
    time.sleep(1.0)  # a daemon that outlived its worker would write by now
    return {
        "course": course, "results": results, "alone": alone, "marks": marks, "seconds": seconds,
        "changed": sorted(set(before.items()) ^ set(_fingerprint(*watched, skip=(results_dir,)).items())),
        "env_new": sorted(_listing(SITE, os.path.join(SITE, "torch", "__pycache__"),
                                   os.path.join(__import__("sys").base_prefix, "lib", "python3.11"))
                          - env_before),
        "tmp_new": sorted(p for p in _listing("/tmp", os.path.expanduser("~"), "/var/tmp") - tmp_before
                          if any(m in p for m in marks.values())),
        "processes": _worker_processes(list(marks.values())),
    }


def test_corpus_is_large_enough():
    assert len(ATTACKS) + 1 >= 30


def test_the_batch_finishes_with_every_submission_graded(batch):
    expected = {*HONEST, "blank", "attack-edit-locked-cells", *(f"attack-{a.id}" for a in ATTACKS)}
    assert set(batch["results"]) == expected
    assert all(r.sandboxed for r in batch["results"].values())


@pytest.mark.parametrize("attack", [*(a.id for a in ATTACKS), "edit-locked-cells"])
def test_attack_earns_nothing_and_leaks_nothing(batch, attack):
    result = batch["results"][f"attack-{attack}"]
    outputs = " ".join(c.stdout + c.stderr + c.error for c in result.cells)
    outputs += " ".join(t.output for t in result.tests)
    assert "LEAKED" not in outputs, outputs[outputs.index("LEAKED"):][:400]
    assert "424242" not in outputs  # the secret seed, in the course and the grader's environment
    assert result.score == 0, [(t.name, t.score, t.output) for t in result.tests if t.score]
    assert result.max_score == batch["alone"].max_score  # points were restored from source


def test_nothing_outside_the_workers_changed(batch):
    assert batch["changed"] == []
    assert batch["env_new"] == []
    assert batch["tmp_new"] == []
    for attack in ATTACKS:
        for planted in attack.plants:
            path = _fill(planted, batch["course"], batch["marks"][attack.id])
            assert not os.path.exists(path), f"{attack.id} planted {path}"


def test_no_worker_process_survives_the_batch(batch):
    assert batch["processes"] == []


def test_honest_submissions_score_as_when_graded_alone(batch):
    alone = {t.name: t.score for t in batch["alone"].tests}
    assert batch["alone"].score == batch["alone"].max_score
    for student in HONEST:
        got = {t.name: t.score for t in batch["results"][student].tests}
        assert got == alone, student
    assert batch["results"]["blank"].score == 0


def test_output_is_capped_with_a_note(batch):
    flood = batch["results"]["attack-output-flood"]
    printed = "".join(c.stdout for c in flood.cells)
    assert len(printed) < 100_000 and "characters of output dropped" in printed
