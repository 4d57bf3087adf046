"""Plausible wrong student answers, one module per problem set.

Each case changes one answer cell by exact substitutions on the reference answer (or
replaces it whole) and says which message the grader must give. Every case must score
strictly between zero and full on its ``grade_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WrongAnswer:
    id: str
    grade_id: str
    expect: str                               # a phrase of the student-facing message
    subs: tuple[tuple[str, str], ...] = ()    # exact substitutions on the reference answer
    replace: str | None = None                # or the whole cell
    notes: str = field(default="", compare=False)
