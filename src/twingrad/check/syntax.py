"""Which Python would parse an engine that this one cannot: for the message of a syntax error."""

from __future__ import annotations

import re
import sys
import warnings
from typing import Any

# An f-string whose replacement field holds its own quote character: legal only from 3.12.
_NESTED_QUOTES = re.compile(r"""\bf(["'])[^"'\n]*\{[^}\n]*\1""", re.IGNORECASE)

# Messages of syntax that newer Pythons accept, and the first version that does.
_KNOWN = (
    ("f-string: expecting '}'", "3.12", "quotes inside an f-string that match its own"),
    ("f-string: unmatched", "3.12", "quotes inside an f-string that match its own"),
    ("f-string expression part cannot include a backslash", "3.12", "backslashes inside an f-string"),
    ("type parameter", "3.12", "type parameters (def f[T]())"),
    ("except*", "3.11", "except* (exception groups)"),
)


def newer_syntax(error: Any, prepared: Any) -> str:
    """A sentence naming the Python version that would parse the file, when known."""
    for fragment, version, feature in _KNOWN:
        if fragment in error.message:
            return (
                f" ({feature} needs Python {version}; check with --python pointing at a Python >= {version})"
            )
    if not error.frames:
        return ""
    # The worker names the file; the parent reads only its own copy of it, by that name (never
    # a path the worker chose: /dev/zero would never end, /proc/self/fd/0 would block).
    reported = error.frames[-1]
    lines = prepared.lines(reported.file, 1, sys.maxsize)
    source = "\n".join(lines)
    line = lines[reported.line - 1] if 0 < reported.line <= len(lines) else ""
    if _NESTED_QUOTES.search(line):
        return (" (quotes inside an f-string that match its own need Python 3.12; "
                "check with --python pointing at one)")
    if not source:
        return ""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # compile, not ast.parse: only the compiler sees a misplaced `from __future__`.
            compile(source, "<engine>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError):
        return ""
    here = "{}.{}".format(*sys.version_info[:2])
    return f" (Python {here}, which runs twingrad, parses it: check with --python pointing at it)"
