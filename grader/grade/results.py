"""Typed results of grading one notebook, and their JSON form (Gradescope's results.json)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

# Facts that vary from run to run like timings (left out of ``to_gradescope(timings=False)``).
MEASUREMENTS = {"worker_stats", "worker_ready_seconds", "notebook_seconds", "gpu_slot"}


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
class GradeResult:
    assignment: str
    notebook: str
    tests: list[TestResult] = field(default_factory=list)
    cells: list[CellRun] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    profile: str = "cpu"
    device: str = "cpu"
    execution_time: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

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

    def to_gradescope(self, *, timings: bool = True) -> dict[str, Any]:
        """Gradescope's results.json, with our own facts under ``extra_data``."""
        tests = []
        for t in self.tests:
            row: dict[str, Any] = {
                "name": t.name,
                "score": t.score,
                "max_score": t.max_score,
                "output": t.output,
                "visibility": t.visibility,
                "extra_data": {"grade_id": t.grade_id, "kind": t.kind, **t.extra},
            }
            if timings:
                row["extra_data"]["seconds"] = round(t.seconds, 3)
            tests.append(row)
        out: dict[str, Any] = {
            "score": self.score,
            "max_score": self.max_score,
            "output": "\n".join(self.notes),
            "visibility": "visible",
            "tests": tests,
            "extra_data": {
                "assignment": self.assignment,
                "notebook": self.notebook,
                "profile": self.profile,
                "device": self.device,
                "cells_failed": [c.index for c in self.cells if not c.ok],
                **{k: v for k, v in self.extra.items() if timings or k not in MEASUREMENTS},
            },
        }
        if timings:
            out["execution_time"] = round(self.execution_time, 3)
        return out

    def to_json(self) -> dict[str, Any]:
        """Everything, for the course batch to resume from (plain data, no pickle)."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GradeResult:
        data = dict(data)
        data["tests"] = [TestResult(**t) for t in data.get("tests", [])]
        data["cells"] = [CellRun(**c) for c in data.get("cells", [])]
        return cls(**data)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True))
        tmp.replace(path)

    @classmethod
    def load(cls, path: Path) -> GradeResult:
        return cls.from_json(json.loads(path.read_text()))
