"""Labels and names inside running text (contracts, letters), independent of any schema.

Prose puts labels where a form would not: ``This agreement is effective as of Effective
Date: 1 February 2024.`` and ``entered into by Acme Widgets Inc. ("Provider")``. Both rules
lean on capitalization, the one signal prose gives for where a label or a name starts:

* a mid-line label is the *maximal* Title-Case run before a colon (:func:`title_run`), so a
  modifier stays part of it (``Shipping Total:`` is not ``Total:``) and a lower-case phrase is
  no label at all (``the total: 5``);
* a defined term (:func:`defined_terms`) names the words before its parenthesis; a party name
  among them (:func:`name_run`) must be introduced by ``between``/``by``/``and``/a colon, so
  ``a company registered in England ("Supplier")`` does not make ``England`` a supplier.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

LEGAL_FORM = (
    r"Inc|LLC|L\.L\.C|Ltd|Limited|GmbH|AG|KG|SE|SA|S\.A|SAS|SARL|BV|B\.V|NV|N\.V|AB|AS|A/S|"
    r"Oy|PLC|LLP|LP|Corp|Corporation|Co|Pty|S\.L|SpA|S\.p\.A|PLLC|KK|K\.K"
)
"""Company legal forms (a regex alternation): they end a company's name."""
_ENDS_WITH_LEGAL_FORM = re.compile(rf"\b(?:{LEGAL_FORM})\.?\s*$", re.IGNORECASE)
_TITLE_WORD = re.compile(r"[^\W\d_][\w.'&/-]*|[#%&]")
_NAME_WORD = re.compile(rf"\S+,\s+(?:{LEGAL_FORM})\.?(?=\s|$)|\S+")
"""A word of a name; ``Analytics, Inc.`` is one, so the comma does not end the name."""
_QUOTE = "\"'\u201c\u201d\u2018\u2019"
_DEFINED = re.compile(
    rf"\(\s*(?:(?:the|hereinafter(?:\s+referred\s+to\s+as)?)\s+)*"
    rf"(?:[{_QUOTE}](?P<quoted>[^{_QUOTE}()]{{1,40}})[{_QUOTE}]"
    rf"|(?P<bare>[A-Z][A-Za-z -]{{1,30}}))\s*\)",
    re.IGNORECASE,
)
_DEFINED_WORDS = 10
_LABEL_CONNECTORS = frozenset({"of", "the", "and", "&", "for", "per", "to", "by", "in", "on",
                               "at", "/"})
"""Lower-case words that occur inside labels (``Date of Issue``, ``Notices to Client``)."""
_NAME_CONNECTORS = frozenset({"of", "and", "&", "de", "von", "van", "der", "la"})
_INTRODUCERS = frozenset({"between", "by", "and", "with", "from", "to"})


def _is_title(word: str) -> bool:
    word = word.split(", ")[0]  # ``Analytics, Inc.``
    return bool(_TITLE_WORD.fullmatch(word)) and (word[0].isupper() or word in "#%&")


def _run_start(words: list[str], connectors: frozenset[str]) -> int:
    """Index of the first word of the Title-Case run that ends ``words``; a connector joins
    the run only between two Title-Case words."""
    start = len(words)
    while start > 0:
        word = words[start - 1]
        joins = (
            word.casefold() in connectors
            and start < len(words)
            and start >= 2
            and _is_title(words[start - 2])
        )
        if not (_is_title(word) or joins):
            break
        start -= 1
    return start


def title_run(head: str) -> str | None:
    """The label that ends ``head`` when ``head`` is prose: its maximal Title-Case run.

    ``This agreement is effective as of Effective Date`` -> ``Effective Date``. Lower-case
    connectors count inside the run (``Date of Issue``), so ``Accepted by Customer`` stays
    whole. ``None`` when the run is empty, is the whole head (an ordinary label, read
    elsewhere) or is the second half of a bilingual ``Datum / Date``.
    """
    words = head.split()
    start = _run_start(words, _LABEL_CONNECTORS)
    if start == len(words) or start == 0 or words[start - 1].endswith("/"):
        return None
    return " ".join(words[start:])


def name_run(text: str) -> str | None:
    """The Title-Case name that ends ``text``, if a party-introducing word, a colon or the
    start of ``text`` comes before it: ``entered into by Acme Widgets Inc.`` -> ``Acme
    Widgets Inc.``; ``a company registered in England`` -> ``None``. A comma may precede a
    legal form (``Northwind Analytics, Inc.``)."""
    words = _NAME_WORD.findall(text)
    start = _run_start(words, _NAME_CONNECTORS)
    if start == len(words):
        return None
    before = words[start - 1] if start > 0 else ""
    if before and before.casefold() not in _INTRODUCERS and not before.endswith(":"):
        return None
    return " ".join(words[start:])


def defined_terms(text: str) -> Iterator[tuple[str, str]]:
    """``(term, words before it)`` for each defined term in ``text``.

    Quoted terms (``("Provider")``, ``(the “Effective Date”)``, ``(hereinafter "Client")``)
    always count; a bare ``(Client)`` only after a legal form (``Maple Leaf Ltd. (Client)``),
    since ``(USD)`` or ``(Germany)`` is a qualifier, not a definition.
    """
    start = 0
    for m in _DEFINED.finditer(text):
        before = " ".join(text[start : m.start()].split()[-_DEFINED_WORDS:])
        start = m.end()
        bare = m.group("bare")
        if bare and not _ENDS_WITH_LEGAL_FORM.search(before):
            continue
        yield (m.group("quoted") or bare).strip(), before
