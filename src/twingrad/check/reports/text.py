"""Text for every report: an engine's words made safe to show, and a verdict in words.

Text an engine produced (a detail, a label, an exception message), made safe to show anywhere.

A learner's engine chooses its own exception messages and labels. Control characters
in them would move a terminal's cursor or recolour it, forge a line of a CI log, or make
an XML file that no parser reads; bidirectional overrides would make a line read
differently from what it holds. They are shown as visible escapes instead (``\\x1b``).
"""

from __future__ import annotations

import re

from ..result import CaseResult

# C0 controls except tab and newline, DEL and C1, bidi overrides and isolates, and what XML
# cannot hold at all (lone surrogates, U+FFFE, U+FFFF).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]")
_UNSAFE_ONE_LINE = re.compile(_UNSAFE.pattern[:-1] + "\t\n]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, *, one_line: bool = False) -> str:
    """``text`` with each unsafe character as an escape; tabs and newlines kept unless ``one_line``."""
    return (_UNSAFE_ONE_LINE if one_line else _UNSAFE).sub(_escape, text)


def _num(x: float | str | None) -> str:
    if x is None:
        return "—"
    return x if isinstance(x, str) else f"{x:.6g}"  # "nan" and "inf" arrive as text


def mismatch_line(result: CaseResult) -> str:
    """``grad of a: 1, expected 2`` -- the first number that disagrees, or ''."""
    m = result.mismatch
    return "" if m is None else f"{m.quantity} of {m.where}: {_num(m.engine)}, expected {_num(m.expected)}"


def case_detail(result: CaseResult) -> str:
    """The verdict's own words: the mismatch, then the detail."""
    return "\n".join(line for line in (mismatch_line(result), result.detail) if line)


def full_detail(result: CaseResult) -> str:
    """Everything known about a verdict: mismatch, detail, misconception, the engine's source line."""
    lines = [case_detail(result)] if case_detail(result) else []
    if result.misconception:
        lines.append(f"misconception: {result.misconception}")
    if result.source is not None:
        where = f" (in {result.source.function})" if result.source.function else ""
        lines.append(f"engine source: {result.source}{where}")
    return "\n".join(lines)
