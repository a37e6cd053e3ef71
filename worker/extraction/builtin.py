"""The built-in, offline extractor: label matching plus strict type parsing.

For each field it collects candidates (a document label that names the field, with its raw
value and layout), ranks them by ``label quality x layout quality`` (earlier lines first on
ties), and takes the first whose value passes the field's type parser. A value that does not
parse leaves the cell empty: precision before recall.

Confidence = label quality x layout quality x parse quality, lowered when another candidate of
about the same rank disagrees. See ``docs/extraction.md`` for the numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction.cell import Cell
from worker.extraction.currencies import code_in_label
from worker.extraction.dateparse import infer_day_first
from worker.extraction.document import ParsedDocument
from worker.extraction.labels import LabelIndex, LabelMatch, tokens
from worker.extraction.layout import Analysis, Pair, analyze, separator_colons
from worker.extraction.prose import name_run
from worker.extraction.types import LENIENT, Hints, parse_scored, unit_in_label
from worker.extraction.values import (
    CHECKED,
    checked_option,
    leading_values,
    legal_name,
    looks_like,
    sentence,
)

LAYOUT_QUALITY: dict[str, float] = {
    "separator": 0.98,
    "table": 0.97,
    "next_line": 0.93,
    "checkbox": 0.93,
    "checkbox_lead": 0.85,
    "column": 0.88,
    "stacked": 0.88,
    "space": 0.88,
    "inline": 0.85,
    "heading": 0.8,
    "defined": 0.8,
}
WEAK_LAYOUTS = frozenset({"separator", "table", "next_line", "column", "stacked"})
"""Layouts that mark where a label ends; only these may use a weak (generic-word-dropped)
label: ``Customer: Bob`` is the customer's name, a heading ``INVOICE`` is not a number."""
DISAGREEMENT = 0.85
"""Factor applied when a candidate of nearly the same rank parses to another value."""

_MAX_INLINE_PAIRS = 16
_LABEL_WORDS = 8
_CUTS = re.compile(r"\s{2,}|\s+\(|\s*;\s*|\s+[-\u2013\u2014]\s+|,\s+(?=[A-Za-z])")
_WORD_START = re.compile(r"(?<=\s)\S")
_VALUE_JUNK = " *_`|\u00b7\u2022,;\u2013\u2014"
_PREFIX_TYPES = frozenset({FieldType.NUMBER, FieldType.INTEGER, FieldType.CURRENCY,
                           FieldType.DATE})
_NUMERIC_TYPES = frozenset({FieldType.NUMBER, FieldType.INTEGER})
_NEGATIONS = frozenset({"not", "no", "non", "never", "without", "disabled", "declined",
                        "excluded", "waived", "off", "none", "cancelled", "canceled", "except"})
_DEFINED_TYPED_WORDS = 6


@dataclass(frozen=True, slots=True)
class Candidate:
    pair: Pair
    score: float
    match: LabelMatch | None = None

    @property
    def key(self) -> tuple[float, int]:
        return (-self.score, self.pair.line)


# ------------------------------------------------------------------------ inline pairs
def _label_start(head: str, limit: int) -> int | None:
    """Where the label that ends ``head`` may start at the earliest: the first word starting
    with a letter among the last ``limit`` words (``3 · Payment method`` -> ``Payment``)."""
    starts = [m.start() for m in _WORD_START.finditer(head)][-limit:]
    return next((pos for pos in starts if head[pos].isalpha()), None)


def _inner_pair(value: str, index: LabelIndex) -> tuple[int, str, str, bool] | None:
    """The first ``label: value`` inside ``value``: (offset, label, value, label is known).

    The longest schema label that ends at an inner separator colon wins; when no schema label
    ends there, the result says where an unknown label probably starts.
    """
    for colon in separator_colons(value):
        head = value[: colon.start()]
        first = _label_start(head, 2 * index.longest + 2)
        if first is None:
            continue
        for m in _WORD_START.finditer(head, first):
            label = head[m.start() :].strip()
            if index.match(label):
                return m.start(), label, value[colon.end() :].strip(), True
        return first, head[first:].strip(), value[colon.end() :].strip(), False
    return None


def _expand(pair: Pair, index: LabelIndex) -> list[Pair]:
    """Split ``Invoice No: 7 Date: 2024-01-02`` into two pairs at the known label ``Date``.

    A value holding another ``label:`` that is not a schema label is marked *messy*: where
    our value ends is then a guess, which string fields do not take.
    """
    out: list[Pair] = []
    current = pair
    for _ in range(_MAX_INLINE_PAIRS):
        if ":" not in current.value and "\uff1a" not in current.value:
            break
        inner = _inner_pair(current.value, index)
        if inner is None:
            break
        pos, label, value, known = inner
        if not known:
            return [*out, _with(current, current.value, messy=True)]
        out.append(_with(current, current.value[:pos].strip()))
        current = Pair(label, value, current.line, current.text, current.layout)
    return [*out, current]


def _with(pair: Pair, value: str, messy: bool = False) -> Pair:
    return Pair(pair.label, value, pair.line, pair.text, pair.layout, messy)


# ------------------------------------------------------------------------ candidates
def _space_pairs(analysis: Analysis, index: LabelIndex) -> Iterator[Pair]:
    """``Label value`` lines: the longest schema label at the start, then whitespace."""
    for opening in analysis.openings:
        hit = index.prefix(opening.text)
        if hit is None:
            continue
        _, end = hit
        rest = opening.text[end:]
        gap = re.match(r"[.?]?\s*" if opening.text[end - 1] == "#" else r"[.?]?\s+", rest)
        if gap and rest[gap.end():].strip():
            value = rest[gap.end():]
            yield Pair(opening.text[:end], value, opening.line, opening.source, "space")


def _checkbox_leads(
    analysis: Analysis, index: LabelIndex, kinds: Mapping[str, FieldType]
) -> Iterator[Pair]:
    """``☑ Automatic renewal at end of term``: a checked item that starts with a boolean
    field's label answers yes, unless the rest negates it (``[x] Auto-renew disabled``).
    An unchecked item says nothing: ``[ ] Paid by card`` may sit above ``[x] Paid by cash``."""
    for pair in analysis.pairs:
        if pair.layout != "checkbox" or pair.value not in CHECKED:
            continue
        if index.match(pair.label) is not None:
            continue
        hit = index.prefix(pair.label)
        if hit is None or kinds[hit[0].field] is not FieldType.BOOLEAN:
            continue
        rest = pair.label[hit[1] :]
        if not _NEGATIONS.intersection(tokens(rest)):
            yield Pair(pair.label[: hit[1]], pair.value, pair.line, pair.text, "checkbox_lead")


def collect(doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, list[Candidate]]:
    """Every candidate of every field, best first."""
    index = LabelIndex(fields)
    kinds = {f.name: f.type for f in fields}
    analysis = analyze(doc.lines)
    found: dict[str, list[Candidate]] = {f.name: [] for f in fields}
    pairs = [p for pair in analysis.pairs
             for p in ([pair] if pair.layout == "defined" else _expand(pair, index))]
    extra = [*_space_pairs(analysis, index), *_checkbox_leads(analysis, index, kinds)]
    for pair in [*pairs, *extra]:
        match = index.match(pair.label)
        if match is None or not pair.value or index.is_label(pair.value):
            continue
        if not _usable(match, pair, kinds[match.field]):
            continue
        score = match.quality * LAYOUT_QUALITY[pair.layout]
        found[match.field].append(Candidate(pair, score, match))
    for candidates in found.values():
        candidates.sort(key=lambda c: c.key)
    return found


def _usable(match: LabelMatch, pair: Pair, kind: FieldType) -> bool:
    """Layout limits of a label reading: a weak label needs a layout that marks the label's
    end, and a check box (``[x] Paid``) only answers a yes/no question."""
    if (match.weak or match.qualified) and pair.layout not in WEAK_LAYOUTS:
        return False
    return not pair.layout.startswith("checkbox") or kind is FieldType.BOOLEAN


# ------------------------------------------------------------------------ parsing
def _raw_values(field: FieldSpec, pair: Pair) -> Iterator[tuple[str, float]]:
    """The raw strings to try for a candidate, with their quality factor."""
    value = pair.value.strip(_VALUE_JUNK)
    if pair.layout == "inline":
        value = sentence(value)
    option = checked_option(value)
    if option is not None:
        value = option
    if not value:
        return
    if pair.layout == "defined":
        yield from _defined_values(field.type, value)
    elif field.type is FieldType.STRING:
        if not pair.messy and _plausible_string(pair, value):
            name = legal_name(value)
            yield (value, 1.0) if name is None else (name, LENIENT)
    else:
        yield from _typed_values(field.type, value, pair.messy)


def _defined_values(kind: FieldType, before: str) -> Iterator[tuple[str, float]]:
    """What a defined term names: the party name, or the value that ends the words before
    it (``effective as of 1 February 2024 ("Effective Date")``), longest first."""
    if kind is FieldType.STRING:
        name = name_run(before)
        if name:
            yield name, 1.0
        return
    words = before.split()[-_DEFINED_TYPED_WORDS:]
    for k in range(len(words)):
        yield " ".join(words[k:]), 1.0


def _typed_values(kind: FieldType, value: str, messy: bool) -> Iterator[tuple[str, float]]:
    if not messy:
        yield value, 1.0
    for m in _CUTS.finditer(value):
        yield value[: m.start()], LENIENT
    for colon in separator_colons(value):
        start = _label_start(value[: colon.start()], _LABEL_WORDS)
        if start is not None:
            yield value[:start], LENIENT
        break
    if kind in _PREFIX_TYPES:
        for prefix in leading_values(value, kind in _NUMERIC_TYPES):
            yield prefix, LENIENT


def _plausible_string(pair: Pair, value: str) -> bool:
    """``Label value`` is too loose for free text unless the value looks like one.

    ``Vendor agrees to...`` must not make ``agrees to...`` a vendor: the value must start with
    a capital or a digit, hold a digit or ``@``, or be set off by two spaces.
    """
    if pair.layout != "space":
        return True
    if value[:1].isupper() or value[:1].isdigit() or "  " in pair.text:
        return True
    return any(ch.isdigit() or ch == "@" for ch in value)


def _parse(
    field: FieldSpec, candidate: Candidate, day_first: Mapping[str, bool]
) -> tuple[object, float, str] | None:
    label = candidate.pair.label
    hints = Hints(currency=code_in_label(label), day_first=day_first, unit=unit_in_label(label))
    dropped = candidate.match.dropped if candidate.match else None
    for raw, quality in _raw_values(field, candidate.pair):
        if not looks_like(dropped, raw):
            continue
        scored = parse_scored(field, raw, hints)
        if scored is not None:
            return scored[0], quality * scored[1], raw.strip()
    return None


def _disagrees(
    field: FieldSpec, best: Candidate, value: object, rest: list[Candidate],
    day_first: Mapping[str, bool],
) -> bool:
    for other in rest[:3]:
        if best.score - other.score > 0.05:
            break
        parsed = _parse(field, other, day_first)
        if parsed is not None and parsed[0] != value:
            return True
    return False


def choose(
    field: FieldSpec, candidates: list[Candidate], day_first: Mapping[str, bool] | None = None
) -> Cell:
    """The cell for ``field``: the best candidate whose value parses, or an empty cell."""
    order = day_first or {}
    for i, candidate in enumerate(candidates):
        parsed = _parse(field, candidate, order)
        if parsed is None:
            continue
        value, quality, raw = parsed
        confidence = candidate.score * quality
        if _disagrees(field, candidate, value, candidates[i + 1 :], order):
            confidence *= DISAGREEMENT
        pair = candidate.pair
        return Cell(
            value=value,
            confidence=round(min(1.0, max(0.01, confidence)), 4),
            label=pair.label,
            line=pair.line,
            text=pair.text,
            raw=raw,
        )
    return Cell.empty()


class BuiltinExtractor:
    """Offline label/value extractor; deterministic and fast (linear in document lines)."""

    name = "builtin"

    def extract(self, doc: ParsedDocument, fields: Sequence[FieldSpec]) -> dict[str, Cell]:
        found = collect(doc, fields)
        day_first = infer_day_first(doc.text)
        return {f.name: choose(f, found[f.name], day_first) for f in fields}
