"""Semantic roles: what a schema field *means*, so labels it never listed can still name it.

``data/lexicon.json`` (data, not code) lists label synonyms per role (``invoice_number``,
``vendor``, ``total``, ``loss_date``...), enum-value phrasings, paid/unpaid phrases and the
cues of document kinds. A field is *bound* to a role when one of its own labels (its name or an
alias, compared as canonical word tokens) is one of the role's labels and the role allows the
field's type; the role's other labels then name the field too, at a lower label quality
(:data:`LEXICON`). A role two fields claim equally goes to neither: guessing which one a
synonym means would fill a wrong cell.

Some labels belong to a kind of document: ``Receipt No.`` is the document's number on a
receipt, ``Total Paid`` its total. :func:`detect_kind` reads the kind from a title line near
the top (``RECEIPT``, ``Purchase Order``, ``Statement of Account``), else from cue phrases.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction.labels import canonical, strip_paren, tokens

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "lexicon.json"
LEXICON = 0.93
"""Label quality factor of a lexicon synonym (an alias the schema did not list)."""
_TITLE_LINES = 12
_TITLE_MAX_WORDS = 6
_CUE_BONUS_KINDS = ("receipt", "credit_note", "statement", "purchase_order")
Key = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Role:
    name: str
    types: frozenset[str]
    labels: frozenset[Key]  # word tokens as written (``invoice``, ``no``)
    kind_labels: Mapping[str, frozenset[Key]]
    canon: frozenset[Key]  # every label, kind-specific ones included, in canonical form
    phrases: Mapping[Key, str] = dataclasses.field(default_factory=dict)
    """Value phrasings of this role (word tokens -> the value as JSON text): ``none`` for a
    count of injured people is ``0``, ``not required`` for a police report is ``false``."""


@dataclass(frozen=True, slots=True)
class Lexicon:
    roles: Mapping[str, Role]
    kinds: Mapping[str, frozenset[Key]]
    enum_values: Mapping[str, tuple[Key, ...]]
    paid_true: frozenset[Key]
    paid_false: frozenset[Key]
    title_words: frozenset[str]


def key(label: str) -> Key:
    """The comparison form of a label: canonical word tokens, trailing ``(...)`` dropped."""
    return canonical(tokens(strip_paren(label) or label))


def _keys(labels: Iterable[str]) -> frozenset[Key]:
    return frozenset(k for k in (key(label) for label in labels) if k)


def _raw(labels: Iterable[str]) -> frozenset[Key]:
    return frozenset(k for k in (tokens(strip_paren(x) or x) for x in labels) if k)


@functools.cache
def load(path: Path = LEXICON_PATH) -> Lexicon:
    """Parse the lexicon file once per process."""
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    roles: dict[str, Role] = {}
    for name, spec in data["roles"].items():
        labels = _raw([name.replace("_", " "), *spec["labels"]])
        by_kind = {kind: _raw(words) for kind, words in spec.get("kind_labels", {}).items()}
        every = labels.union(*by_kind.values())
        phrases = {k: value for value, words in spec.get("values", {}).items()
                   for k in _raw(words)}
        roles[name] = Role(name, frozenset(spec["types"]), labels, by_kind,
                           frozenset(canonical(k) for k in every), phrases)
    kinds = {kind: _keys(words) for kind, words in data["document_kinds"].items()}
    enums = {value: tuple(k for k in (tokens(w) for w in words) if k)
             for value, words in data["enum_values"].items()}
    paid = data["paid_phrases"]
    return Lexicon(roles, kinds, enums, _keys(paid["true"]), _keys(paid["false"]),
                   frozenset(data.get("title_words", ())))


def _field_keys(spec: FieldSpec) -> set[Key]:
    return {k for k in (key(spec.name), *(key(a) for a in spec.aliases)) if k}


def bind_roles(fields: Sequence[FieldSpec]) -> dict[str, str]:
    """Cached :func:`bind_fields` (a job's documents share one schema)."""
    return dict(_bind_cached(tuple((f.name, str(f.type), tuple(f.aliases)) for f in fields)))


@functools.lru_cache(maxsize=256)
def _bind_cached(
    shape: tuple[tuple[str, str, tuple[str, ...]], ...],
) -> tuple[tuple[str, str], ...]:
    fields = [FieldSpec(name=n, type=FieldType(t), aliases=list(a),
                        values=["x"] if t == "enum" else None) for n, t, a in shape]
    return tuple(bind_fields(fields).items())


def bind_fields(fields: Sequence[FieldSpec], lexicon: Lexicon | None = None) -> dict[str, str]:
    """``{field name: role}`` for the fields whose own labels place them in one role.

    A field's score for a role is the number of its labels the role lists (its name counts
    double, being what the schema's author chose first). The best role wins; a tie between
    two roles binds nothing, and so does a role claimed equally by two fields.
    """
    lex = lexicon or load()
    claims: dict[str, list[tuple[int, str]]] = {}
    for spec in fields:
        own = _field_keys(spec)
        name_key = key(spec.name)
        scored: list[tuple[int, str]] = []
        for role in lex.roles.values():
            if str(spec.type) not in role.types:
                continue
            every = role.canon
            hits = len(own & every) + (name_key in every) + 2 * (key(role.name) == name_key)
            if hits:
                scored.append((hits, role.name))
        scored.sort(reverse=True)
        if scored and (len(scored) == 1 or scored[0][0] > scored[1][0]):
            claims.setdefault(scored[0][1], []).append((scored[0][0], spec.name))
    bound: dict[str, str] = {}
    for role_name, claimants in claims.items():
        claimants.sort(reverse=True)
        if len(claimants) == 1 or claimants[0][0] > claimants[1][0]:
            bound[claimants[0][1]] = role_name
    return bound


def extra_labels(
    fields: Sequence[FieldSpec], roles: Mapping[str, str], kind: str | None,
    lexicon: Lexicon | None = None,
) -> list[tuple[FieldSpec, Key]]:
    """The lexicon labels each bound field gains in a document of ``kind``."""
    lex = lexicon or load()
    out: list[tuple[FieldSpec, Key]] = []
    for spec in fields:
        role_name = roles.get(spec.name)
        if role_name is None:
            continue
        role = lex.roles[role_name]
        keys = set(role.labels)
        if kind is not None:
            keys |= role.kind_labels.get(kind, frozenset())
        out += [(spec, k) for k in sorted(keys)]
    return out


_WORDS = re.compile(r"[^\W\d_]+")
_TITLE_DASH = re.compile(r"\s+[\u2014\u2013|/-]\s+")
"""Splits a title into parts: ``Acme Ltd — Service Agreement``, bilingual ``FACTURE / INVOICE``."""
_PARENTHESIZED = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")


def detect_kind(lines: Sequence[str], lexicon: Lexicon | None = None) -> str | None:
    """The kind of document: a title line near the top that is a kind's name (``RECEIPT``,
    ``Tax Invoice``, ``Statement of Account``), else the one non-invoice kind whose cue
    phrases occur (``thank you for your purchase``, ``change due``). ``None`` when unsure.
    """
    lex = lexicon or load()
    seen = 0
    for line in lines:
        stripped = line.strip(" *#_|-=")
        if not stripped:
            continue
        seen += 1
        if seen > _TITLE_LINES:
            break
        for part in _TITLE_DASH.split(stripped):  # ``Acme Ltd — Service Agreement``
            kind = _title_kind(part, lex)
            if kind is not None:
                return kind
    text = " ".join(" ".join(tokens(line)) for line in lines[:400])
    found = {kind for kind in _CUE_BONUS_KINDS
             for k in lex.kinds[kind] if len(k) >= 2 and f" {' '.join(k)} " in f" {text} "}
    if len(found) == 1:
        return found.pop()
    return None if found else _first_kind_word(lines, lex)


def _title_kind(part: str, lex: Lexicon) -> str | None:
    """The kind a title names: all of it (``Tax Invoice``) or its last words (``Monitoring
    Service Agreement``)."""
    toks = tuple(t for t in tokens(part) if t not in {"copy", "original", "customer"})
    if not toks or len(toks) > _TITLE_MAX_WORDS:
        return None
    for kind, keys in lex.kinds.items():
        if toks in keys or canonical(toks) in keys or (
                len(toks) > 1 and any(toks[-k:] in keys for k in (2, 3))):
            return kind
    if 1 < len(toks) <= 4 and toks[-1] == "bill":
        return "invoice"  # a title ``Water & Sewer Bill``, ``Your Phone Bill``
    return None


_VAGUE_KIND_WORDS = frozenset({("po",), ("bill",), ("lease",), ("contract",)})


def _first_kind_word(lines: Sequence[str], lex: Lexicon) -> str | None:
    """No title and no cue: the kind whose name the top of the document uses first
    (``Invoice Number: ...`` on an untitled invoice). Vague words (``PO``, ``bill``) do not
    count: an invoice quotes a PO number."""
    best: tuple[int, int, int, str] | None = None
    for row, line in enumerate(lines[:_TITLE_LINES * 2]):
        toks = tokens(line)
        for kind, keys in lex.kinds.items():
            for k in keys:
                if k in _VAGUE_KIND_WORDS or len(k) > len(toks):
                    continue
                for col in range(len(toks) - len(k) + 1):
                    if toks[col : col + len(k)] == k and (
                            best is None or (row, col, -len(k)) < best[:3]):
                        best = (row, col, -len(k), kind)
                        break
        if best is not None:
            return best[3]
    return None


def enum_from_phrase(
    text: str, values: Sequence[str], aliases: Mapping[str, Sequence[str]] | None = None,
    lexicon: Lexicon | None = None,
) -> str | None:
    """The one enum value a phrase names through the lexicon or the schema's value aliases:
    ``Mastercard ending 5521`` -> ``card``, ``SEPA direct debit`` -> ``direct_debit``.

    The longest phrase found decides (``SEPA direct debit`` is direct debit, not a SEPA
    transfer); phrases of two different values that are not part of one another give nothing,
    and so does a phrase of a lexicon entry the schema does not have (``Direct debit (card)``
    for ``[card, cash]``). Parenthesized words are a qualifier and are ignored.
    """
    words = tokens(_PARENTHESIZED.sub(" ", text))
    if not words:
        return None
    alias_key = tuple(sorted((k, tuple(v)) for k, v in (aliases or {}).items()))
    inside, outside = _phrase_index(tuple(values), alias_key, id(lexicon or load()))
    found: list[tuple[Key, str]] = []
    other: list[Key] = []
    for i, word in enumerate(words):
        found += [(p, v) for p, v in inside.get(word, ()) if words[i : i + len(p)] == p]
        other += [p for p in outside.get(word, ()) if words[i : i + len(p)] == p]
    if not found:
        return None
    longest = max(found, key=lambda f: len(f[0]))
    rivals = {v for p, v in found if v != longest[1] and not _contains(longest[0], p)
              and not (len(longest[0]) > 1 and p in _WEAK_PHRASES)}
    beyond = [p for p in other if len(p) >= len(longest[0]) and not _contains(longest[0], p)]
    return None if rivals or beyond else longest[1]


_WEAK_PHRASES = frozenset({("bank",), ("iban",), ("account",)})
"""One-word phrases that only hint at a value: ``collected by Direct Debit from your bank
account`` is a direct debit; a phrase of two or more words of another value outweighs them."""

PhraseIndex = dict[str, list[tuple[Key, str]]]


@functools.lru_cache(maxsize=256)
def _phrase_index(
    values: tuple[str, ...], aliases: tuple[tuple[str, tuple[str, ...]], ...], lexicon_id: int,
) -> tuple[PhraseIndex, dict[str, list[Key]]]:
    """Phrases by first word: those naming one of ``values`` and those of lexicon entries the
    schema does not have (a phrase of those makes a reading ambiguous)."""
    del lexicon_id  # part of the cache key only
    lex = load()
    inside: PhraseIndex = {}
    by_value = dict(aliases)
    mapped: set[str] = set()
    for value in values:
        phrases: list[Key] = [tokens(a) for a in by_value.get(value, ())]
        entry = _lexicon_value(value, lex)
        if entry is not None:
            mapped.add(entry)
            phrases.extend(lex.enum_values[entry])
        for phrase in phrases:
            if phrase:
                inside.setdefault(phrase[0], []).append((phrase, value))
    outside: dict[str, list[Key]] = {}
    for entry, entry_phrases in lex.enum_values.items():
        if entry not in mapped:
            for phrase in entry_phrases:
                outside.setdefault(phrase[0], []).append(phrase)
    return inside, outside


def _lexicon_value(value: str, lex: Lexicon) -> str | None:
    """The lexicon entry an enum value stands for: its own name, or the entry whose phrases
    include it (``credit_card`` -> ``card``, ``wire`` -> ``bank_transfer``)."""
    norm = tokens(value.replace("_", " "))
    if "_".join(norm) in lex.enum_values:
        return "_".join(norm)
    for entry, phrases in lex.enum_values.items():
        if norm in phrases:
            return entry
    return None


def paid_phrase(text: str, lexicon: Lexicon | None = None) -> bool | None:
    """``Paid in full`` -> True, ``Awaiting payment`` -> False, anything else None."""
    lex = lexicon or load()
    k = key(text)
    if k in lex.paid_true:
        return True
    if k in lex.paid_false:
        return False
    return None


def role_phrase(role: str | None, text: str, lexicon: Lexicon | None = None) -> str | None:
    """The value (as JSON text: ``0``, ``false``) the lexicon gives ``text`` for ``role``,
    or ``None``: ``Nobody`` for a count of injured people, ``Not required`` for a police
    report. The whole value must be the phrase (a trailing full stop is ignored)."""
    if role is None:
        return None
    found = (lexicon or load()).roles.get(role)
    if found is None or not found.phrases:
        return None
    return found.phrases.get(tokens(text))


def _contains(words: Key, part: Key) -> bool:
    n = len(part)
    return any(words[i : i + n] == part for i in range(len(words) - n + 1))
