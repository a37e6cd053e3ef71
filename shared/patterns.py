"""Field ``pattern``s run on RE2, a regular-expression engine that takes linear time.

Why: the worker matches every extracted value (up to 1,000 characters) against its field's
``pattern``. Python's ``re`` backtracks, so a pattern like ``(a+)+b`` against forty ``a``
followed by ``!`` runs for minutes and holds a worker process until the per-document time
limit, stalling every other organization's jobs behind it. RE2 (``google-re2``) guarantees
time linear in the value's length for any pattern it accepts, and refuses the constructs that
need backtracking (backreferences such as ``\\1``, lookahead and lookbehind). So the API
compiles a pattern with RE2 when the schema arrives (400 for what RE2 refuses) and the worker
matches with the same compiled form: a pattern that was accepted always runs, and runs fast.

Supported syntax: RE2's (https://github.com/google/re2/wiki/Syntax), which is Python's
minus backreferences, lookaround, ``\\Z`` (write ``\\z``), possessive and atomic groups, and
counted repetition above 1,000. ``\\d``, ``\\w``, ``\\s`` and ``\\b`` are ASCII-only in RE2;
use ``\\p{L}``, ``\\p{N}`` or explicit classes for other scripts. Matching is a full match
of the whole value, as before.
"""

from __future__ import annotations

import functools
from typing import Any, Protocol, cast

import re2  # type: ignore[import-untyped]


class Pattern(Protocol):
    """The part of a compiled RE2 pattern jobgrid uses."""

    def fullmatch(self, text: str) -> Any | None: ...


class PatternRefused(ValueError):
    """RE2 cannot run the pattern (a syntax it does not support, or too large)."""


def _options() -> Any:
    opts = re2.Options()
    opts.log_errors = False  # a refused pattern is the client's error, not a log line
    return opts


@functools.lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> Pattern:
    """The RE2 form of ``pattern``; :class:`PatternRefused` with RE2's reason otherwise.

    Cached: a schema's patterns are compiled once per process, not once per value.
    """
    try:
        return cast(Pattern, re2.compile(pattern, _options()))
    except re2.error as e:
        reason = e.args[0] if e.args else e
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise PatternRefused(str(reason)) from None
