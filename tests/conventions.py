"""The convention every problem set's intro follows (issue 12), as a checker the tests share.

``check_intro(nb)`` reads the first markdown cell of a source notebook and returns what
breaks the convention: title and a paragraph; Learning goals (numbered); Tasks (a table
whose points equal the cells' points, one row per graded cell, a total row with an
estimated time); How this notebook works; Glossary / 용어 (8-20 rows, each with its Korean
term). An empty list when nothing does.
"""

from __future__ import annotations

import re

import nbformat

from grader.notebooks import cells

SECTIONS = ("**Learning goals.**", "**Tasks.**", "**How this notebook works.**", "**Glossary / 용어.**")
TASK_HEADER = ["part", "what you write", "points (hidden tests)", "public test", "estimated time"]
GLOSSARY_HEADER = ["English", "한국어", "meaning"]
HANGUL = re.compile("[\uac00-\ud7a3]")
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _table(text: str) -> list[list[str]]:
    """The first Markdown table in ``text``: its rows (header first, separator dropped)."""
    rows, started = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("|"):
            started = True
            cells_ = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
            if not all(set(c) <= set("-: ") for c in cells_):
                rows.append(cells_)
        elif started:
            break
    return rows


def _number(cell: str) -> float | None:
    found = NUMBER.search(cell.replace("*", ""))
    return float(found.group()) if found else None


def _sum(cell: str) -> float:
    """A total cell, e.g. "**25**", "**23 + 6 by hand**" or "**28** (25 automatic, 3 by hand)":
    the numbers outside parentheses, added."""
    return sum(float(n) for n in NUMBER.findall(re.sub(r"\([^)]*\)", "", cell.replace("*", ""))))


def check_intro(nb: nbformat.NotebookNode) -> list[str]:
    """What in the intro (first markdown cell) breaks the convention of issue 12: title and a
    paragraph; Learning goals (numbered); Tasks (a table whose points equal the cells'
    points, one row per graded cell, a total row); How this notebook works; Glossary / 용어
    (8-20 rows, each with its Korean term). [] when all is well."""
    intro = next((c for c in nb.cells if c.cell_type == "markdown"), None)
    if intro is None or not intro.source.startswith("# "):
        return ["the first markdown cell must start with the title (# ...)"]
    text = intro.source
    where = [text.find(s) for s in SECTIONS]
    missing = [s for s, i in zip(SECTIONS, where, strict=True) if i < 0]
    if missing:
        return [f"the intro lacks {', '.join(missing)}"]
    if where != sorted(where) or len(text[:where[0]].strip().splitlines()) < 2:
        return ["the intro must be: title and a paragraph, then " + ", ".join(SECTIONS) + " in this order"]
    goals, tasks, how, glossary = (text[a:b] for a, b in zip(where, [*where[1:], len(text)], strict=True))
    problems = []
    if "After this problem set you can" not in goals or len(re.findall(r"^\d+\. ", goals, re.M)) < 3:
        problems.append("Learning goals: 'After this problem set you can' and a numbered list")

    graded = {cells.grade_id(c): cells.points(c) for c in nb.cells
              if cells.nbgrader_meta(c).get("solution") and cells.nbgrader_meta(c).get("grade")}
    public = {cells.grade_id(c): cells.points(c) for c in nb.cells if cells.is_public_test(c)}
    table = _table(tasks)
    if not table or table[0] != TASK_HEADER:
        problems.append(f"Tasks: the table header must be {TASK_HEADER}")
        table = [TASK_HEADER]
    seen: list[str] = []
    totals = [r for r in table[1:] if any("total" in c.lower() for c in r[:2])]
    for row in table[1:]:
        if len(row) != len(TASK_HEADER):
            problems.append(f"Tasks: row {row} does not have {len(TASK_HEADER)} columns")
            continue
        if not row[4]:
            problems.append(f"Tasks: row {row[0]!r} has no estimated time")
        if row in totals:
            continue
        named = [n for n in re.findall(r"`(\w+)", row[1]) if n in graded]
        if len(named) != 1:
            problems.append(f"Tasks: row {row[0]!r} must name exactly one graded cell in backticks, "
                            f"not {named}")
            continue
        gid = named[0]
        seen.append(gid)
        if _number(row[2]) != graded[gid]:
            problems.append(f"Tasks: {gid} has {graded[gid]:g} points in its cell, the table says {row[2]!r}")
        want = public.get(f"test_{gid}")
        if _number(row[3]) != want:
            problems.append(f"Tasks: {gid}'s public test is worth {want}, the table says {row[3]!r}")
    if sorted(seen) != sorted(graded):
        problems.append(f"Tasks: one row per graded cell; rows name {sorted(seen)}, cells are {sorted(graded)}")
    if len(totals) != 1:
        problems.append("Tasks: one total row")
    else:
        total = totals[0]
        if _sum(total[2]) != sum(graded.values()):
            problems.append(f"Tasks: the total must be {sum(graded.values()):g} points, not {total[2]!r}")
        if _sum(total[3]) != sum(public.values()):
            problems.append(f"Tasks: the public tests total {sum(public.values()):g}, not {total[3]!r}")
        if not re.search(r"hour|min", total[4]):
            problems.append("Tasks: the total row needs an estimated total time (e.g. 'about 3 hours')")
    if not re.search(r"public test", how, re.I) or not re.search(r"hidden test", how, re.I):
        problems.append("How this notebook works: explain public and hidden tests")
    terms = _table(glossary)
    if not terms or terms[0] != GLOSSARY_HEADER:
        problems.append(f"Glossary: the table header must be {GLOSSARY_HEADER}")
    elif not 8 <= len(terms) - 1 <= 20:
        problems.append(f"Glossary: 8-20 terms, not {len(terms) - 1}")
    else:
        problems += [f"Glossary: {row[0]!r} needs an English term, its Korean term and a meaning"
                     for row in terms[1:]
                     if len(row) != 3 or not row[0] or not HANGUL.search(row[1]) or not row[2]]
    return problems
