"""JUnit XML for CI systems: one testcase per test, failures carry the student message."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from ..results import GradeResult


def to_junit(result: GradeResult) -> ET.ElementTree:
    failures = sum(1 for t in result.tests if not t.passed)
    suite = ET.Element("testsuite", {
        "name": f"{result.assignment}:{result.notebook}",
        "tests": str(len(result.tests)),
        "failures": str(failures),
        "errors": "0",
        "time": f"{result.execution_time:.3f}",
    })
    props = ET.SubElement(suite, "properties")
    for key, value in (("score", result.score), ("max_score", result.max_score),
                       ("profile", result.profile), ("device", result.device)):
        ET.SubElement(props, "property", {"name": key, "value": str(value)})
    for t in result.tests:
        case = ET.SubElement(suite, "testcase", {
            "classname": f"{result.assignment}.{t.grade_id}",
            "name": t.name,
            "time": f"{t.seconds:.3f}",
        })
        ET.SubElement(case, "system-out").text = f"{t.score:g}/{t.max_score:g}: {t.output}"
        if not t.passed:
            fail = ET.SubElement(case, "failure", {
                "message": t.output[:500], "type": "partial" if t.score > 0 else "failed"})
            fail.text = f"score {t.score:g} of {t.max_score:g}\n{t.output}"
    return ET.ElementTree(suite)


def write_junit(result: GradeResult, path: Path) -> None:
    tree = to_junit(result)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tree.write(path, encoding="utf-8", xml_declaration=True)
