"""What a check produces: a verdict per case, and the run as a whole (summary, JSON, exit code)."""

from __future__ import annotations

import html
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..files import write_atomic
from ..verdict import BAD, ERROR, FAIL, NOTE, PASS, STATUSES, TIMEOUT, UNSUPPORTED, Mismatch

__all__ = ["BAD", "ERROR", "FAIL", "NOTE", "PASS", "STATUSES", "TIMEOUT", "UNSUPPORTED", "CaseResult",
           "CheckRun", "Drawing", "Mismatch", "SourceLine"]


class Drawing(str):
    """SVG text that Jupyter shows as a picture."""

    def _repr_svg_(self) -> str:
        return str(self)


@dataclass(frozen=True)
class SourceLine:
    """A place in the engine's source: where the culprit op is defined or the error was raised."""

    file: str  # as shown to the user
    line: int
    function: str = ""
    code: str = field(default="", compare=False)  # the line itself, read from the engine's own files

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class CaseResult:
    name: str
    ops: tuple[str, ...]
    status: str
    detail: str = ""
    mismatch: Mismatch | None = None
    svg: Drawing | None = field(default=None, repr=False)  # the graph with the culprit in red
    source: SourceLine | None = None
    misconception: str | None = None
    culprit: str = ""  # the op the check blames (op table name), when one is named
    seconds: float = field(default=0.0, repr=False)  # kept out of reprs: they must be reproducible

    def to_dict(self) -> dict[str, Any]:
        """The JSON record of the case (the issue's schema: no drawing, no timing)."""
        return {
            "name": self.name,
            "ops": list(self.ops),
            "status": self.status,
            "detail": self.detail,
            "mismatch": self.mismatch.to_dict() if self.mismatch else None,
            "source": None if self.source is None else {"file": self.source.file, "line": self.source.line,
                                                        "function": self.source.function},
            "misconception": self.misconception,
        }


@dataclass
class CheckRun:
    """The verdicts of one engine over the catalogue."""

    target: str
    torch_version: str
    results: list[CaseResult]
    seconds: float = field(default=0.0, repr=False)
    reading: str = ""  # how the engine's own names were read: "data from .val, ..."
    worker: Any = field(default=None, repr=False)  # the worker's hello: name, language, version
    seed: int | None = None  # what the drawn inputs were drawn from: `--seed` replays the run

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(STATUSES, 0)
        for result in self.results:
            counts[result.status] += 1
        return counts

    @property
    def ok(self) -> bool:
        """True when no case failed, errored or timed out (notes and unsupported ops are fine),
        and at least one case was checked at all: an engine with no operators is not OK."""
        checked = any(r.status in (PASS, NOTE) for r in self.results)
        return checked and not any(r.status in BAD for r in self.results)

    @property
    def exit_code(self) -> int:
        return 0 if self.ok else 1

    def result(self, name: str) -> CaseResult:
        for r in self.results:
            if r.name == name:
                return r
        raise KeyError(name)

    def summary_line(self) -> str:
        """``FAIL my_engine.py:Value: 8 fail, 14 pass, 13 unsupported (35 cases, seed 1234)``."""
        counts = ", ".join(f"{n} {status}" for status, n in self.summary.items() if n)
        verdict = "OK" if self.ok else "FAIL"
        cases = f"{len(self.results)} case{'' if len(self.results) == 1 else 's'}"
        seed = "" if self.seed is None else f", seed {self.seed}"
        # No timing: the same engine and seed give the same line (notebooks and docs compare it).
        return f"{verdict} {self.target}: {counts} ({cases}{seed})"

    def __str__(self) -> str:
        from .render import as_text, verdict_table

        return as_text(verdict_table(self)) + self.summary_line()

    def __repr__(self) -> str:
        # What a notebook shows as text/plain beside the HTML table: reproducible, short.
        return f"<CheckRun {self.summary_line()}>"

    def _repr_html_(self) -> str:
        from .render import as_html, verdict_table

        return as_html(verdict_table(self)) + f"<p><b>{html.escape(self.summary_line())}</b></p>"

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "torch_version": self.torch_version,
            "seed": self.seed,
            "reading": self.reading,
            "cases": [r.to_dict() for r in self.results],
            "summary": self.summary,
        }

    def write_json(self, path: str | os.PathLike[str]) -> Path:
        """Write `to_dict` to ``path`` atomically: a reader sees the old file or the new, never half."""
        return write_atomic(path, json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n")
