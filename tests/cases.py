"""Reads conformance case files: plain text where adding a case means adding text.

A file holds cases separated by ``=== <title>`` lines. A case is the formula (every line up to
the first ``--- <section>`` line, joined with newlines) and sections (``#`` lines inside
sections are comments):

- ``--- tree``: the expected syntax tree as `calcformula.dump` prints it;
- ``--- diagnostics``: one ``CODE LINE:COL-LINE:COL`` per line, in order (none: ``ok``);
- ``--- fixed``: the formula after applying the first fix of every diagnostic.
- ``--- canonical`` / ``--- hubspot``: the formatted text in that style.

Evaluation cases (eval/) also state ``--- check`` (the checker's codes, or ``ok``) and
``--- diagnostics`` (one line per record: the evaluation's codes, or ``none``); ``--- engines``
``python`` keeps a case out of the SQL engines (numbers their decimals cannot hold).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path

CONFORMANCE = Path(__file__).parent / "conformance"


@dataclass
class Case:
    path: Path
    line: int
    title: str
    formula: str
    sections: dict[str, str] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.path.stem}:{self.line}:{self.title}"


def _finish(case: Case | None, section: str | None, buffer: list[str]) -> None:
    if case is None:
        return
    body = "\n".join(buffer)
    if section is None:
        case.formula = body
    else:
        case.sections[section] = body.strip("\n")


def load_cases(folder: str) -> list[Case]:
    cases: list[Case] = []
    for path in sorted((CONFORMANCE / folder).glob("*.cases")):
        current: Case | None = None
        section: str | None = None
        buffer: list[str] = []
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if raw.startswith("=== "):
                _finish(current, section, buffer)
                current = Case(path, number, raw[4:].strip(), "")
                cases.append(current)
                section, buffer = None, []
            elif raw.startswith("--- ") and current is not None:
                _finish(current, section, buffer)
                section, buffer = raw[4:].strip(), []
            elif current is not None and section is not None and raw.startswith("#"):
                continue  # a comment about the next case
            elif current is not None:
                buffer.append(raw)
            elif raw.strip() and not raw.startswith("#"):
                raise ValueError(f"{path}:{number}: text before the first === case")
        _finish(current, section, buffer)
    return cases


@dataclass
class EvalInputs:
    """What an evaluation case gives: the schema's object, NOW, records and expected values."""

    object_name: str | None
    now_ms: int | None
    records: list[dict[str, object]]
    expected: list[str]


def eval_inputs(case: Case) -> EvalInputs:
    sections = case.sections
    now = None
    if "now" in sections:
        moment = dt.datetime.fromisoformat(sections["now"].replace("Z", "+00:00"))
        now = int(moment.timestamp() * 1000)
    if "records" in sections:
        records = json.loads(sections["records"])
        expected = sections["values"].splitlines()
    else:
        records = [json.loads(sections.get("record", "{}"))]
        expected = [sections["value"]]
    return EvalInputs(sections.get("object"), now, records, expected)
