"""Grading settings in one place: what a run reads from outside, profiles, the threshold.

``Settings`` is everything a run of the grader takes from its surroundings (the course
directory, the data root, the seeds), resolved once, from the environment, by the command
line, and passed down; ``ENVIRONMENT`` lists every environment variable the course reads,
and ``Settings.from_env`` is the only place in the package that reads one of ours.
Profiles differ only in how much time and which device a submission gets. Every timeout
and resource limit of a worker is a field of ``sandbox.limits.Limits``; a profile holds
one ``Limits`` and ``limits_for`` adapts it to one worker (GPU slot, threads, sandbox). The
MNIST threshold numbers come from ``bench/calibrate_threshold.py`` (see docs/threshold.md).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .course import Course
from .data.mnist import default_root
from .sandbox.limits import Limits

SUBMISSION_MAX_BYTES = 5_000_000    # a notebook larger than this is not graded
DEFAULT_HIDDEN_SEED = 20261126      # base of every hidden test's random inputs


@dataclass(frozen=True)
class EnvVar:
    name: str
    read_by: str
    meaning: str


# Every environment variable the course reads, and who reads it (the README's table is
# checked against this list). All are optional.
ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar("COURSE_ID", "`nbgrader_config.py`, `deploy/student/nbgrader_config.py`, "
           "`deploy/jupyterhub/jupyterhub_config.py`",
           "course id in the exchange (`intro-dl`)"),
    EnvVar("NBGRADER_EXCHANGE_ROOT", "both nbgrader configs, `deploy/jupyterhub/jupyterhub_config.py`",
           "the exchange folder (`/usr/local/share/nbgrader/exchange`, nbgrader's default)"),
    EnvVar("NBGRADER_DB_URL", "`nbgrader_config.py`",
           "the gradebook (`sqlite:///<course>/gradebook.db`)"),
    EnvVar("GRADER_COURSE_ROOT", "`grader/config.py` (`Settings`)",
           "the course directory (the working directory when it holds `nbgrader_config.py` "
           "and `source/`, else this checkout)"),
    EnvVar("GRADER_DATA_ROOT", "`grader/config.py` (`Settings`)",
           "where MNIST lives (`data/`; `fetch-data --root` too)"),
    EnvVar("GRADER_EVAL_SEED", "`grader/config.py` (`Settings`)",
           "ps5's secret evaluation seed (else `secrets/eval_seed`, git-ignored; else a public "
           "seed, and results say so)"),
    EnvVar("GRADER_HIDDEN_SEED", "`grader/config.py` (`Settings`)",
           f"base seed of the hidden tests' random inputs (`{DEFAULT_HIDDEN_SEED}`)"),
    EnvVar("GRADER_KEEP_TORCH", "`scripts/install.sh`",
           "keep the machine's own torch (GPU runner) instead of a venv"),
    EnvVar("GRADER_TORCH_INDEX", "`scripts/install.sh`, `tests/hub/prepare.sh`",
           "install torch from this wheel index (`https://download.pytorch.org/whl/cpu`: CPU-only builds)"),
    EnvVar("JUPYTERHUB_USER", "`deploy/student/nbgrader_config.py`",
           "the student id on JupyterHub"),
    EnvVar("COURSE_HUB_STUDENTS", "`deploy/jupyterhub/jupyterhub_config.py`",
           "comma-separated hub user names of the students (each an OS account of that name)"),
    EnvVar("COURSE_HUB_INSTRUCTORS", "`deploy/jupyterhub/jupyterhub_config.py`",
           "comma-separated hub admins, whose servers get the instructor tools"),
    EnvVar("COURSE_HUB_IP", "`deploy/jupyterhub/jupyterhub_config.py`",
           "the address the hub listens on (every interface; the test: `127.0.0.1`)"),
    EnvVar("COURSE_HUB_PORT", "`deploy/jupyterhub/jupyterhub_config.py`",
           "the hub's port (`8000`; the hub's API and the proxy's API take the next two)"),
    EnvVar("COURSE_HUB_STATE_DIR", "`deploy/jupyterhub/jupyterhub_config.py`",
           "the hub's database, cookie secret and pid files (`/srv/jupyterhub`)"),
    EnvVar("COURSE_HUB_TEST_PASSWORD", "`deploy/jupyterhub/jupyterhub_config.py`",
           "tests only: log everyone in with this password (dummy authenticator) instead of PAM"),
    EnvVar("CI", "`tests/hubkit.py`, `tests/autograde/test_ray_backend.py`",
           "`true`: the JupyterHub and Ray tests fail, never skip, when what they need is missing"),
)


@dataclass(frozen=True)
class Settings:
    """What a run of the grader takes from outside its code, resolved once.

    The command line builds one with ``from_env`` and hands it to the verb, which hands it
    down; library functions called without one resolve it the same way, at call time
    (never at import time).
    """

    course: Course
    data_root: Path
    hidden_seed: int = DEFAULT_HIDDEN_SEED
    eval_seed_override: int | None = None   # GRADER_EVAL_SEED

    @classmethod
    def from_env(cls, *, course: Course | Path | None = None, data_root: Path | None = None,
                 environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> Settings:
        """Settings from the environment; ``course`` and ``data_root`` win over it.

        >>> s = Settings.from_env(environ={"GRADER_HIDDEN_SEED": "7", "GRADER_DATA_ROOT": "/d"})
        >>> s.hidden_seed, str(s.data_root)
        (7, '/d')
        """
        env = os.environ if environ is None else environ
        if course is None:
            course = (Course(Path(env["GRADER_COURSE_ROOT"]).expanduser().resolve())
                      if env.get("GRADER_COURSE_ROOT") else Course.find(cwd or Path.cwd()))
        elif not isinstance(course, Course):
            course = Course(Path(course).resolve())
        if data_root is None:
            data_root = (Path(env["GRADER_DATA_ROOT"]).expanduser()
                         if env.get("GRADER_DATA_ROOT") else default_root())
        seed = env.get("GRADER_EVAL_SEED")
        return cls(course, Path(data_root), int(env.get("GRADER_HIDDEN_SEED") or DEFAULT_HIDDEN_SEED),
                   int(seed) if seed else None)

    def with_course(self, course: Course) -> Settings:
        """The same settings for another course directory (the demo's throwaway course)."""
        return dataclasses.replace(self, course=course)

    def eval_seed(self) -> tuple[int, bool]:
        """ps5's evaluation seed and whether it is the course offering's secret one."""
        if self.eval_seed_override is not None:
            return self.eval_seed_override, True
        secret = self.course.root / "secrets" / "eval_seed"
        if secret.exists():
            return int(secret.read_text().strip()), True
        return PUBLIC_EVAL_SEED, False

    def private_paths(self) -> tuple[str, ...]:
        """What no worker may ever see: the course and the data root (held-out digits)."""
        return (str(self.course.root), str(self.data_root))


@dataclass(frozen=True)
class Profile:
    name: str
    device: str                     # "cpu" or "cuda"
    train_budget_s: float           # ps5: the student's train_model budget on MNIST
    quick_budget_s: float           # ps5: the budget of the small "learns an easy task" run
    mnist_threshold: float          # ps5: accuracy on the evaluation set for full points
    mnist_floor: float              # ps5: partial credit grows linearly from here
    limits: Limits = field(default_factory=Limits)  # every timeout and resource limit
    # What a budget counts. "cpu": CPU seconds of the whole worker (every thread and
    # process, read from the host) at the profile's fixed thread count, which a busy
    # neighbour does not change; the student reads it with time.process_time(). "wall":
    # seconds on the clock (the GPU profile: the device does the work). Either way a
    # generous wall-clock cap (``budget_wall_cap``) stops a call that ignores its budget.
    budget_clock: str = "cpu"

    def with_limits(self, **changes) -> Profile:
        """This profile with some limits changed (tests, benchmarks): ``with_limits(call_timeout_s=5)``."""
        return dataclasses.replace(self, limits=dataclasses.replace(self.limits, **changes))

    def budget_wall_cap(self, budget_s: float) -> float:
        """Wall-clock seconds after which a budgeted call is stopped, whatever its clock says.

        On the CPU clock a call may take longer on the wall than its budget when the machine
        is busy (that is the point of counting CPU time), so the cap leaves room for a
        machine three times oversubscribed.
        """
        factor = 4.0 if self.budget_clock == "cpu" else 1.1
        return budget_s * factor + 10

    def budget_tolerance(self, budget_s: float) -> float:
        """Budget seconds, on the profile's clock, a call may use before it counts as late
        (receiving the arguments and sending the model back are counted too)."""
        return budget_s * 1.2 + 2


@dataclass(frozen=True)
class GpuSlot:
    """One worker's share of a GPU (handed out by ``autograde.gpu_slots``)."""

    device: str              # the CUDA_VISIBLE_DEVICES value for the worker: one card
    memory_fraction: float   # of that card's memory, for torch's per-process cap
    index: int               # which share of that card (0 .. per_gpu - 1)


# Threshold and floor per profile come from bench/calibrate_threshold.py (docs/threshold.md):
# the lecture CNN passes in at least 19 of 20 seeds, a 784-256-10 MLP fails.
PROFILES: dict[str, Profile] = {
    # One torch thread per worker, always: CPU seconds buy the same work whether a
    # submission is graded alone or beside others (two threads do ~20% less per CPU second).
    # 90 CPU s at one thread is as many training steps as 60 s on the clock at two threads,
    # where the threshold was first calibrated.
    "cpu": Profile("cpu", "cpu", train_budget_s=90.0, quick_budget_s=8.0, mnist_threshold=0.89,
                   mnist_floor=0.84, limits=Limits(threads=1)),
    # Provisional until scripts/gpu_check.sh has calibrated it on the runner: 8 s of training
    # keeps a whole ps5 grading (worker start, tests, training, evaluation) near 20 s.
    "gpu": Profile("gpu", "cuda", train_budget_s=8.0, quick_budget_s=3.0, mnist_threshold=0.90,
                   mnist_floor=0.80, limits=Limits(threads=2), budget_clock="wall"),
}

# ps5 evaluation: the 10k test digits, each shifted by up to this many pixels, drawn from the
# course offering's secret seed (GRADER_EVAL_SEED or secrets/eval_seed, never released).
MNIST_MAX_SHIFT = 2
PUBLIC_EVAL_SEED = 1234  # used only when no secret is configured (CI, laptops); says so


def resolve_profile(device: str = "auto") -> Profile:
    """``auto`` picks the GPU profile when CUDA is usable in this process."""
    if device == "auto":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    return PROFILES["gpu" if device == "cuda" else "cpu"]


def threads_per_worker(jobs: int) -> int:
    """Torch threads for each of ``jobs`` concurrent GPU workers (their budget is wall time,
    so CPU threads only feed the device; oversubscribing slows everyone). CPU profiles keep
    their fixed count instead (``Profile.limits.threads``)."""
    return max(1, (os.cpu_count() or 2) // max(1, jobs))


def threads_for(profile: Profile, jobs: int) -> int:
    """The torch threads of one worker when ``jobs`` grade at once under ``profile``."""
    return profile.limits.threads if profile.budget_clock == "cpu" else threads_per_worker(jobs)


def limits_for(profile: Profile, *, cuda_slot: str | None = None,
               memory_fraction: float | None = None, threads: int | None = None,
               sandbox: bool = True, private_paths: tuple[str, ...] = ()) -> Limits:
    """The profile's limits for one worker: its GPU slot, its threads, what it must never see
    (``Settings.private_paths``; the sandbox refuses to bind anything that holds them)."""
    cuda = profile.device == "cuda"
    return dataclasses.replace(
        profile.limits,
        # CUDA reserves address space the size of host plus device memory when it starts,
        # so an address-space cap stops a GPU worker before it runs; its host memory is
        # left to the OS (see docs/gpu-runner.md), the GPU memory to the per-process share.
        memory_bytes=None if cuda else profile.limits.memory_bytes,
        threads=threads or profile.limits.threads,
        cuda_device=(cuda_slot or "0") if cuda else "",
        cuda_memory_fraction=memory_fraction,
        sandbox=sandbox,
        private_paths=tuple(private_paths),
    )
