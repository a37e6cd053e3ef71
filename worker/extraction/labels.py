"""Label normalization and the per-schema label index.

A label is compared as a tuple of lower-case word tokens: ``invoice_number``,
``invoiceNumber``, ``invoice-number``, ``Invoice Number`` and ``INVOICE NUMBER:`` are all
``("invoice", "number")``. Tokens are whole words, so the field ``total`` never matches the
label ``Subtotal`` (token ``subtotal``) and never matches ``Total Tax`` (two tokens) either.
``#`` and ``%`` are kept as tokens (``Invoice #``). A trailing parenthesized part such as
``(USD)`` or ``(optional)`` is ignored. The *compact* form (tokens joined) tolerates split or
joined words: ``E-mail`` matches ``email``, ``P.O. Number`` matches ``po_number``.

Documents word the same label in other ways, so a label that is not found as written is
looked up again in a *canonical* form (see :func:`canonical`), at a lower quality:

* ``A of B`` is ``B A``: ``Date of issue`` = ``issue_date``, ``Date of signature`` =
  ``signature_date``;
* the identifier words ``number``, ``no``, ``nr``, ``num``, ``id`` and ``#`` stand for each
  other as a label's last word: ``Agreement #`` = ``agreement_number``;
* ``pct``, ``percent`` and ``percentage`` are ``%``: ``discountPct`` = ``Discount %``;
* a document label may add words that only restate the field's type (:data:`FILLERS`):
  ``Total amount`` and ``Grand Total`` for a number ``total``, ``Service start date`` for a date
  ``service_start``; never a content word, so ``Total tax`` and ``Subtotal`` stay refused;
* a bilingual label ``Vertragsnummer / Contract No.`` is each of its halves;
* for an e-mail, date or currency field, a label may go on with a short qualifier
  (:data:`QUALIFIER_WORDS` and up to four more words): ``Email for statements``, ``Contact
  email for HR questions``, ``Delivery date for lot 2``; the type check protects precision.
  The match is :attr:`LabelMatch.qualified` (used only where the label's end is marked), a
  bare one-word date or currency label (``Total for shipping``, ``Date for payment``) is
  refused, and so is every plain string, number, integer, boolean or enum field, where the
  qualifier may change what is named.

One *weak* variant is kept apart (:attr:`LabelMatch.weak`): a field's name without its last
generic word: ``name``/``number``/``no``/``id`` for strings (``customer_name`` -> ``Customer``,
``invoice_number`` -> ``Invoice``) and a time unit for numbers (``term_months`` -> ``Term``).
The extractor only trusts it where the document marks the label's end and the value looks
like what the dropped word promised (letters for a name, one token with a digit for an
identifier, a stated unit for a count of months).

Only the field's name and its ``aliases`` are labels; the description is prose for people (and
for the LLM extractor) and would cause false matches.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import fuzz, process

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction.currencies import CODES

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_TOKEN = re.compile(r"[^\W_]+|[#%]")
_PREFIX_CHARS = 240  # a label at a line start is never longer than this
_PAREN = re.compile(r"\s*[(\[][^()\[\]]*[)\]]\s*$")
_BILINGUAL = re.compile(r"\s+/\s+")

# label quality: how sure a match makes us that the label names the field
NAME, ALIAS, NAME_COMPACT, ALIAS_COMPACT = 1.0, 0.97, 0.93, 0.9
VARIANT = 0.95
"""Factor for a canonical-form match (reordered words, identifier synonyms, ``pct``)."""
FILLER = 0.95
"""Factor for a match that needed type-restating filler words removed."""
BILINGUAL = 0.97
"""Factor for a match of one half of ``A / B``."""
WEAK = 0.85
QUALIFIED = 0.9
LEXICON_QUALITY = 0.93
"""Factor for a lexicon synonym of the field's semantic role (see :mod:`.lexicon`)."""
FUZZY = 0.9
FUZZY_CUTOFF = 92.0
"""rapidfuzz ratio a misspelt label needs (out of 100): one edit in a 13-letter label."""
FUZZY_MIN_CHARS = 9
"""Factor for a label followed by a short qualifier (``Email for statements``)."""
QUALIFIER_WORDS = frozenset({"for", "to", "used", "on"})
"""Words that start a qualifier after a field's label."""
_MAX_QUALIFIER = 5  # the qualifier word and at most four more
_QUALIFIED_TYPES = frozenset({FieldType.EMAIL, FieldType.DATE, FieldType.CURRENCY})
_SINGLE_WORD_QUALIFIED = frozenset({FieldType.EMAIL})
"""Factor for a field name with its generic last word dropped (``Customer`` for
``customer_name``): a guess, used only when nothing better exists."""

ID_WORDS = frozenset({"number", "no", "nr", "num", "id", "#"})
"""Words that say "identifier"; interchangeable as a label's last word."""
REF_WORDS = frozenset({"ref", "reference"})
"""Also identifier words as a label's last word after another word (``PO Ref``), but not
words a name may drop (``payment_reference`` never becomes ``Payment``)."""
GENERIC_WORDS = ID_WORDS | {"name"}
"""A string field's last name word that may be dropped (weakly)."""
UNIT_WORDS = frozenset({"minutes", "hours", "days", "weeks", "months", "years"})
"""A numeric field's last name word that may be dropped (weakly): ``term_months`` ->
``Term``, if the value then states its unit (``Term: 24 months``)."""
_COUNTED = frozenset({FieldType.NUMBER, FieldType.INTEGER})
_PERCENT = frozenset({"pct", "percent", "percentage"})
FILLERS: dict[FieldType, frozenset[str]] = {
    FieldType.NUMBER: frozenset({"amount", "value", "sum", "grand"}),
    FieldType.CURRENCY: frozenset({"amount", "value", "sum", "grand"}),
    FieldType.DATE: frozenset({"date"}),
    FieldType.EMAIL: frozenset({"address"}),
}
"""Per type, words a document may add to a label without changing what it names: they
restate the type (``amount``, ``date``) or only emphasize (``grand``)."""


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


@functools.lru_cache(maxsize=65536)
def tokens(text: str) -> tuple[str, ...]:
    """Lower-case word tokens of ``text`` with camelCase split."""
    return tuple(t for t, _ in token_spans(text))


def strip_paren(label: str) -> str:
    """Drop a trailing ``(...)`` or ``[...]`` qualifier: ``Total (USD)`` -> ``Total``."""
    return _PAREN.sub("", label)


def _reorder(toks: tuple[str, ...]) -> tuple[str, ...]:
    """``date of (the) issue`` -> ``issue date``; labels without one inner ``of`` unchanged."""
    if toks.count("of") != 1:
        return toks
    k = toks.index("of")
    head, tail = toks[:k], toks[k + 1 :]
    if tail[:1] == ("the",):
        tail = tail[1:]
    return (*tail, *head) if head and tail else toks


ABBREVIATIONS = {"amt": "amount", "inv": "invoice", "pmt": "payment", "pymt": "payment",
                 "acct": "account", "tot": "total", "qty": "quantity", "cust": "customer"}
"""Common abbreviations in labels, read as the word: ``Amt due`` = ``Amount due``."""


def canonical(toks: tuple[str, ...]) -> tuple[str, ...]:
    """The word-order and synonym-free form of a label (see the module docstring)."""
    toks = tuple(ABBREVIATIONS.get(t, t) for t in toks)
    toks = _reorder(tuple("%" if t in _PERCENT else t for t in toks))
    if len(toks) > 1 and toks[-1] in REF_WORDS:
        toks = (*toks[:-1], "#")
    if toks and toks[-1] in ID_WORDS:
        toks = (*toks[:-1], "#")
    return toks


TRIMMED = 0.95
"""Factor for a label read without its leading/trailing qualifier words (see
:func:`trim_qualifiers`)."""
LEAD_QUALIFIERS = frozenset({"plus", "add", "incl", "including", "zzgl", "inkl",
                             "thereof", "davon", "dont", "less", "minus", "zuzüglich",
                             "inklusive"})
"""Words that open a label without changing what it names: ``plus VAT``, ``zzgl. MwSt.``,
``less Discount`` (the amount's sign is the value's business, not the label's)."""
_TAX_WORDS = frozenset({"vat", "tax", "taxes", "gst", "hst", "mwst", "ust", "tva", "iva"})


def trim_qualifiers(toks: tuple[str, ...]) -> tuple[str, ...]:
    """``of which VAT`` -> ``vat``, ``plus VAT`` -> ``vat``, ``Total CAD`` -> ``total``,
    ``Total incl. VAT`` -> ``total``. Never ``excl. VAT``: a total without tax is a subtotal."""
    if toks[:2] == ("of", "which"):
        toks = toks[2:]
    while toks and toks[0] in LEAD_QUALIFIERS:
        toks = toks[1:]
    if len(toks) >= 2 and len(toks[-1]) == 3 and toks[-1].upper() in CODES:
        toks = toks[:-1]  # ``TOTAL CAD``: the currency is a hint, not part of the label
    if len(toks) >= 3 and toks[-2] in {"incl", "including", "inc", "inkl"} and (
            toks[-1] in _TAX_WORDS):
        toks = toks[:-2]
    return toks


@dataclass(frozen=True, slots=True)
class LabelMatch:
    field: str
    quality: float
    weak: bool = False  # a generic word was dropped from the field name
    dropped: str | None = None  # that word (``name``, ``number``...), for value checks
    qualified: bool = False  # the label went on with a qualifier (``Email for statements``)
    source: str = "schema"  # ``schema`` (name/alias), ``lexicon`` or ``fuzzy``


class _Table:
    """A key -> match map where two different fields on one key cancel out (ambiguous)."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, ...], LabelMatch | None] = {}

    def add(self, key: tuple[str, ...], match: LabelMatch) -> None:
        if not key:
            return
        if key not in self.entries:
            self.entries[key] = match
            return
        known = self.entries[key]
        if known is not None and known.field != match.field:
            self.entries[key] = None

    def get(self, key: tuple[str, ...]) -> LabelMatch | None:
        return self.entries.get(key)


class LabelIndex:
    """Every label of a schema, looked up in O(1) by token tuple or compact form."""

    def __init__(
        self, fields: Sequence[FieldSpec],
        extra: Sequence[tuple[FieldSpec, tuple[str, ...]]] = (),
    ) -> None:
        self.exact: dict[tuple[str, ...], LabelMatch] = {}
        self.compact: dict[str, LabelMatch] = {}
        self.variants = _Table()
        self.fillers: dict[frozenset[str], _Table] = {}
        self.dropped = _Table()
        self.qualifiable = _Table()
        self.longest = 1
        self.prefix_extra: dict[tuple[str, ...], LabelMatch] = {}
        self._memo: dict[str, LabelMatch | None] = {}
        for spec in fields:
            self._add(spec, spec.name, NAME, NAME_COMPACT)
        for spec in fields:
            for alias in spec.aliases:
                self._add(spec, strip_paren(alias) or alias, ALIAS, ALIAS_COMPACT)
        for spec in fields:
            self._add_dropped(spec)
        self.lexicon = _Table()
        self.lexicon_compact: dict[str, LabelMatch | None] = {}
        for spec, toks in extra:
            self._add_lexicon(spec, toks)
        self._fuzzy_keys = [k for k, m in self.compact.items() if len(k) >= FUZZY_MIN_CHARS]
        self.qualifiable_compact: dict[str, LabelMatch] = {}
        for key, found in self.qualifiable.entries.items():  # ``E-mail for`` = ``Email for``
            if found is not None:
                self.qualifiable_compact.setdefault("".join(key), found)
        self._fuzzy_keys += [k for k, m in self.lexicon_compact.items()
                             if m is not None and len(k) >= FUZZY_MIN_CHARS]

    def _add_lexicon(self, spec: FieldSpec, toks: tuple[str, ...]) -> None:
        """A lexicon synonym: never overrides a schema label, and two fields that share one
        make it ambiguous (neither is filled through it)."""
        if toks in self.exact or "".join(toks) in self.compact:
            return
        if canonical(toks) in self.dropped.entries:
            return  # ``Customer`` is also ``customer_number`` without ``number``: ambiguous
        match = LabelMatch(spec.name, ALIAS * LEXICON_QUALITY, source="lexicon")
        self.lexicon.add(canonical(toks), match)
        if spec.type is FieldType.STRING and canonical(toks)[-1] != "#" and len(toks) > 1:
            self.lexicon.add((*canonical(toks), "#"), match)  # ``Our invoice`` + ``No.``
        compact = "".join(toks)
        known = self.lexicon_compact.get(compact, match)
        self.lexicon_compact[compact] = match if known == match else None
        self.prefix_extra.setdefault(toks, match)
        self.longest = max(self.longest, len(toks))
        if spec.type in _QUALIFIED_TYPES and len(toks) > 1 and toks not in self.qualifiable.entries:
            # ``Contact e-mail for this claim``: a synonym may take a qualifier as a name may
            self.qualifiable.add(toks, LabelMatch(spec.name, match.quality * QUALIFIED,
                                                  qualified=True, source="lexicon"))

    def _add(self, spec: FieldSpec, label: str, exact_q: float, compact_q: float) -> None:
        toks = tokens(label)
        if not toks:
            return
        # First writer wins: a name beats another field's identical alias.
        self.exact.setdefault(toks, LabelMatch(spec.name, exact_q))
        self.compact.setdefault("".join(toks), LabelMatch(spec.name, compact_q))
        self.longest = max(self.longest, len(toks))
        if spec.type in _QUALIFIED_TYPES and (
            len(toks) > 1 or spec.type in _SINGLE_WORD_QUALIFIED
        ):
            self.qualifiable.add(toks, LabelMatch(spec.name, exact_q * QUALIFIED, qualified=True))
        key = canonical(toks)
        self.variants.add(key, LabelMatch(spec.name, exact_q * VARIANT))
        fillers = FILLERS.get(spec.type)
        if fillers and not fillers.intersection(toks):
            table = self.fillers.setdefault(fillers, _Table())
            table.add(key, LabelMatch(spec.name, exact_q * FILLER))

    def _add_dropped(self, spec: FieldSpec) -> None:
        toks = tokens(spec.name)
        if len(toks) < 2:
            return
        generic = spec.type is FieldType.STRING and toks[-1] in GENERIC_WORDS
        unit = spec.type in _COUNTED and toks[-1] in UNIT_WORDS
        if generic or unit:
            match = LabelMatch(spec.name, NAME * WEAK, weak=True, dropped=toks[-1])
            self.dropped.add(canonical(toks[:-1]), match)

    # ------------------------------------------------------------------ lookups
    def match(self, label: str) -> LabelMatch | None:
        """The field a whole document label names, if any (strongest reading first)."""
        if label in self._memo:
            return self._memo[label]
        found: LabelMatch | None = None
        if len(label.split()) <= 2 * self.longest + 4:
            found = self._lookup(strip_paren(label))
            if found is None and _BILINGUAL.search(label):
                found = self._bilingual(label)
        if len(self._memo) < 50_000:
            self._memo[label] = found
        return found

    def _lookup(self, label: str) -> LabelMatch | None:
        toks = tokens(label)
        if not toks or len(toks) > self.longest + _MAX_QUALIFIER:
            return None
        found = self.exact.get(toks) or self.compact.get("".join(toks))
        if found is None:
            key = canonical(toks)
            found = (self.variants.get(key) or self.lexicon.get(key)
                     or self.lexicon_compact.get("".join(toks))
                     or self._filler(toks) or self.dropped.get(key))
        found = found or self._qualified(toks) or self._fuzzy(toks)
        if found is None:
            trimmed = trim_qualifiers(toks)
            if trimmed != toks and trimmed:
                inner = self._lookup(" ".join(trimmed))
                if inner is not None:
                    found = dataclasses.replace(inner, quality=inner.quality * TRIMMED)
        return found

    def _fuzzy(self, toks: tuple[str, ...]) -> LabelMatch | None:
        """A misspelt or squeezed label (``Invoce Number``, ``Subtotl``): the one known label
        within a small edit distance (rapidfuzz ratio), long labels only."""
        compact = "".join(toks)
        if len(compact) < FUZZY_MIN_CHARS or not self._fuzzy_keys:
            return None
        hits = process.extract(compact, self._fuzzy_keys, scorer=fuzz.ratio,
                               score_cutoff=FUZZY_CUTOFF, limit=2)
        if not hits or (len(hits) > 1 and hits[1][1] == hits[0][1]):
            return None
        best = self.compact.get(hits[0][0]) or self.lexicon_compact.get(hits[0][0])
        if best is None:
            return None
        return LabelMatch(best.field, best.quality * FUZZY, source="fuzzy")

    def _qualified(self, toks: tuple[str, ...]) -> LabelMatch | None:
        """``Email for statements``: a label of an e-mail, date or currency field, then a
        qualifier word and at most four more words (no ``:`` inside, tokens only)."""
        for k in range(min(self.longest, len(toks) - 1), 0, -1):
            rest = toks[k:]
            if rest[0] in QUALIFIER_WORDS and len(rest) <= _MAX_QUALIFIER:
                found = (self.qualifiable.get(toks[:k])
                         or self.qualifiable_compact.get("".join(toks[:k])))
                if found is not None:
                    return found
        return None

    def _filler(self, toks: tuple[str, ...]) -> LabelMatch | None:
        for fillers, table in self.fillers.items():
            kept = tuple(t for t in toks if t not in fillers)
            if kept and len(kept) < len(toks):
                found = table.get(canonical(kept))
                if found is not None:
                    return found
        return None

    def _bilingual(self, label: str) -> LabelMatch | None:
        """``Vertragsnummer / Contract No.``: the halves that name a field must agree."""
        halves = [h for h in _BILINGUAL.split(strip_paren(label)) if h]
        found = [m for m in (self._lookup(strip_paren(h)) for h in halves) if m is not None]
        if not found or len({m.field for m in found}) != 1:
            return None
        best = max(found, key=lambda m: m.quality)
        return LabelMatch(best.field, best.quality * BILINGUAL, best.weak, best.dropped)

    def is_label(self, text: str) -> bool:
        """True when ``text`` is exactly some field's label (so it is not a value)."""
        return self.match(text.rstrip(" :\uff1a")) is not None

    def prefix(self, text: str) -> tuple[LabelMatch, int] | None:
        """Longest label (exact tokens only) at the start of ``text``; returns (match, end)."""
        spans = token_spans(text[:_PREFIX_CHARS])
        best: tuple[LabelMatch, int] | None = None
        for k in range(1, min(self.longest, len(spans) - 1) + 1):
            toks = tuple(t for t, _ in spans[:k])
            hit = self.exact.get(toks) or self.prefix_extra.get(toks)
            if hit is not None:
                best = (hit, spans[k - 1][1])
        return best


def labels_of(spec: FieldSpec) -> Iterable[tuple[str, ...]]:
    """Token tuples of a field's name and aliases, name first."""
    yield tokens(spec.name)
    for alias in spec.aliases:
        yield tokens(strip_paren(alias) or alias)
