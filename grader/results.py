"""Typed results of grading one notebook, and how a batch keeps them on disk (plain JSON).

Every layer above the grading of one notebook reads these types: the course batch, the
nbgrader chain, and the presentation package ``report`` (tables, JUnit, Gradescope JSON).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class TestResult:
    name: str
    grade_id: str
    score: float
    max_score: float
    output: str
    kind: str = "hidden"          # "public" | "hidden" | "static"
    visibility: str = "visible"
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.score >= self.max_score


@dataclass
class CellRun:
    index: int
    grade_id: str | None
    origin: str
    ok: bool
    error: str = ""
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0


@dataclass
class WorkerFacts:
    """Where a submission's time went in its worker (benchmarks, the GPU check)."""

    starts: int = 0                       # 1, plus a restart after every crash or timeout
    forked: int = 0                       # of those, forked from the pre-imported parent
    ready_seconds: float | None = None    # process, imports, CUDA context: first start
    notebook_seconds: float | None = None  # running the notebook's cells, every start
    stats: dict[str, float] = field(default_factory=dict)   # what the worker measured


@dataclass
class GradeResult:
    assignment: str
    notebook: str
    tests: list[TestResult] = field(default_factory=list)
    cells: list[CellRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = "cpu"
    device: str = "cpu"
    execution_time: float = 0.0
    sandboxed: bool = True                # False: graded without bubblewrap (said in notes)
    host_memory_capped: bool = False      # a memory cgroup held the worker's processes
    gpu_slot: dict[str, Any] | None = None
    worker: WorkerFacts = field(default_factory=WorkerFacts)
    # A course batch: whose submission, and the digest of the notebook it was graded from
    # (a rerun regrades only what changed).
    student: str | None = None
    submission_sha256: str | None = None

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tests), 4)

    @property
    def max_score(self) -> float:
        return round(sum(t.max_score for t in self.tests), 4)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0

    def by_grade_id(self) -> dict[str, tuple[float, float]]:
        totals: dict[str, tuple[float, float]] = {}
        for t in self.tests:
            s, m = totals.get(t.grade_id, (0.0, 0.0))
            totals[t.grade_id] = (round(s + t.score, 4), round(m + t.max_score, 4))
        return totals

    def to_json(self) -> dict[str, Any]:
        """Everything, for the course batch to resume from (plain data, no pickle)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeResult:
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        data["cells"] = [CellRun(**c) for c in data.get("cells", [])]
        data["worker"] = WorkerFacts(**data.get("worker", {}))
        return cls(**data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> GradeResult:
        return cls.from_json(json.loads(path.read_text()))
