"""Label normalization and the per-schema label index.

A label is compared as a tuple of lower-case word tokens: ``invoice_number``,
``invoiceNumber``, ``invoice-number``, ``Invoice Number`` and ``INVOICE NUMBER:`` are all
``("invoice", "number")``. Tokens are whole words, so the field ``total`` never matches the
label ``Subtotal`` (token ``subtotal``) and never matches ``Total Tax`` (two tokens) either.
``#`` and ``%`` are kept as tokens (``Invoice #``). A trailing parenthesized part such as
``(USD)`` or ``(optional)`` is ignored. The *compact* form (tokens joined) tolerates split or
joined words: ``E-mail`` matches ``email``, ``P.O. Number`` matches ``po_number``.

Only the field's name and its ``aliases`` are labels; the description is prose for people (and
for the LLM extractor) and would cause false matches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shared.models import FieldSpec

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[^\W_]+|[#%]")
_PREFIX_CHARS = 240  # a label at a line start is never longer than this
_PAREN = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")

# label quality: how sure a match makes us that the label names the field
NAME, ALIAS, NAME_COMPACT, ALIAS_COMPACT = 1.0, 0.97, 0.93, 0.9


def token_spans(text: str) -> list[tuple[str, int]]:
    """Lower-case word tokens (camelCase split), each with the index just after it."""
    out: list[tuple[str, int]] = []
    for m in _TOKEN.finditer(text):
        word = m.group()
        bounds = [0, *(c.start() for c in _CAMEL.finditer(word)), len(word)]
        for a, b in zip(bounds, bounds[1:], strict=False):
            if b > a:
                out.append((word[a:b].casefold(), m.start() + b))
    return out


def tokens(text: str) -> tuple[str, ...]:
    """Lower-case word tokens of ``text`` with camelCase split."""
    return tuple(t for t, _ in token_spans(text))


def strip_paren(label: str) -> str:
    """Drop a trailing ``(...)`` or ``[...]`` qualifier: ``Total (USD)`` -> ``Total``."""
    return _PAREN.sub("", label)


@dataclass(frozen=True, slots=True)
class LabelMatch:
    field: str
    quality: float


class LabelIndex:
    """Every label of a schema, looked up in O(1) by token tuple or compact form."""

    def __init__(self, fields: Sequence[FieldSpec]) -> None:
        self.exact: dict[tuple[str, ...], LabelMatch] = {}
        self.compact: dict[str, LabelMatch] = {}
        self.longest = 1
        self._memo: dict[str, LabelMatch | None] = {}
        for spec in fields:
            self._add(spec.name, spec.name, NAME, NAME_COMPACT)
        for spec in fields:
            for alias in spec.aliases:
                self._add(spec.name, strip_paren(alias) or alias, ALIAS, ALIAS_COMPACT)

    def _add(self, field: str, label: str, exact_q: float, compact_q: float) -> None:
        toks = tokens(label)
        if not toks:
            return
        # First writer wins: a name beats another field's identical alias.
        self.exact.setdefault(toks, LabelMatch(field, exact_q))
        self.compact.setdefault("".join(toks), LabelMatch(field, compact_q))
        self.longest = max(self.longest, len(toks))

    def match(self, label: str) -> LabelMatch | None:
        """The field a whole document label names, if any."""
        if label in self._memo:
            return self._memo[label]
        found: LabelMatch | None = None
        if len(label.split()) <= 2 * self.longest + 2:
            toks = tokens(strip_paren(label))
            if toks and len(toks) <= self.longest + 2:
                found = self.exact.get(toks) or self.compact.get("".join(toks))
        if len(self._memo) < 50_000:
            self._memo[label] = found
        return found

    def is_label(self, text: str) -> bool:
        """True when ``text`` is exactly some field's label (so it is not a value)."""
        return self.match(text.rstrip(" :\uff1a")) is not None

    def prefix(self, text: str) -> tuple[LabelMatch, int] | None:
        """Longest label (exact tokens only) at the start of ``text``; returns (match, end)."""
        spans = token_spans(text[:_PREFIX_CHARS])
        best: tuple[LabelMatch, int] | None = None
        for k in range(1, min(self.longest, len(spans) - 1) + 1):
            hit = self.exact.get(tuple(t for t, _ in spans[:k]))
            if hit is not None:
                best = (hit, spans[k - 1][1])
        return best
