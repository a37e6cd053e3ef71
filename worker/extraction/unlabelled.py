"""Values printed without a label, each read by one rule with a precision guard.

A document states some values without any label a schema could name: the seller only in the
letterhead, a ``PAID`` stamp, a line-item count that has to be counted, a receipt's bare
date-and-time line, the customer's e-mail inside the bill-to block, a due date or a payment
method inside a sentence. The extractor asks these rules only for a field its labels left
empty, and only for a field bound to the rule's semantic role (:mod:`.lexicon`).

Every rule refuses when it is unsure, because a wrong cell costs more than an empty one: two
candidates that disagree (two bare dates, two item tables, a ``PAID`` stamp and an
``Unpaid`` line) leave the cell empty. Each answer names its rule, so a person can see why a
value is there, and carries a confidence below a labelled reading's.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from shared.models import FieldSpec
from shared.status import FieldType
from worker.extraction.labels import tokens
from worker.extraction.layout import cells, clean_line, split_pair
from worker.extraction.lexicon import detect_kind, enum_from_phrase, load, paid_phrase
from worker.extraction.prose import LEGAL_FORM
from worker.extraction.types import Hints, parse_scored
from worker.extraction.values import leading_values
from worker.extraction.wrapped import Passage, passages

_LEGAL = re.compile(rf"\b(?:{LEGAL_FORM})\.?(?:\s|$)", re.IGNORECASE)
_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,24}")
_TIME = re.compile(
    r"\s*(?:,\s*|\s+)?(?:at\s+)?\d{1,2}:\d{2}(?::\d{2})?\s*(?:[AaPp]\.?[Mm]\.?)?\s*$")
_DUE_WHEN = r"(?:by|on\s+or\s+before|on|before|no\s+later\s+than|not\s+later\s+than)"
_DUE_SENTENCE = re.compile(
    r"(?:\b(?:pay(?:ment)?(?:\s+is)?(?:\s+due)?|due|payable(?:\s+in\s+full)?|remit|settle)"
    r"|\b(?:pay|settle|remit)\s+(?:this|the|your)\s+(?:invoice|bill|balance|amount(?:\s+due)?|"
    r"account|fee\s+note|statement)(?:\s+in\s+full)?(?:\s+by\s+(?:bank\s+transfer|card|cheque|"
    r"check|direct\s+debit|bacs))?"
    r"|\b(?:must|should|to|needs\s+to)\s+be\s+(?:paid|settled|received)(?:\s+in\s+full)?)"
    r"\s+" + _DUE_WHEN + r"\s+(?P<rest>.+)", re.IGNORECASE)
"""``Please pay by 14 March``, ``Please settle this invoice by bank transfer no later than
12 May 2025``, ``must be paid in full by ...``: a sentence stating the due date."""
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z])")
_HEADER_ITEM = frozenset({"description", "item", "items", "product", "article", "service",
                          "sku", "goods", "details", "particulars"})
_HEADER_QTY = frozenset({"qty", "quantity", "price", "amount", "unit", "rate", "hours", "units",
                         "total", "cost", "pcs", "each"})
_TOTAL_WORDS = frozenset({"subtotal", "total", "tax", "vat", "gst", "net", "discount",
                          "shipping", "balance"})
_CUSTOMER_CUES = frozenset({"bill", "billed", "customer", "client", "sold", "ship", "invoice",
                            "attention", "attn", "buyer", "claimant", "insured", "policyholder",
                            "recipient", "purchaser"})
_VENDOR_CUES = frozenset({"questions", "contact", "support", "remit", "remittance", "our",
                          "vendor", "supplier", "seller", "from", "merchant", "help"})
SENT_TO = re.compile(
    r"\b(?:e-?mailed|sent|emailed)\s+to\s+(?:(?:you|the\s+(?:insured|claimant|policyholder|"
    r"customer|client))\s+at\s+)?(?P<email>\S+@\S+)"
    r"|\b(?:write|reply|respond|contact|reach|e-?mail)\s+(?:to\s+)?(?:you|me|the\s+(?:insured|"
    r"claimant|policyholder))\s+(?:at|on|via)\s+(?P<them>\S+@\S+)"
    r"|\b(?:correspond|communicate|deal)\s+with\s+(?:our\s+client|the\s+(?:insured|claimant|"
    r"policyholder)|them|him|her|me)\s+(?:directly\s+)?(?:at|on|via)\s+(?P<client>\S+@\S+)"
    r"|\b(?:sent|e-?mailed)\s+(?:a\s+copy|a\s+confirmation|confirmation|it|this)\s+to\s+"
    r"(?P<copy>\S+@\S+)", re.IGNORECASE)
"""An address the document says it writes to (the recipient's): never ``contact us at``."""
_PAY_CUES = frozenset({"paid", "pay", "payment", "collected", "charged", "debited", "tender",
                       "tendered", "ending", "method", "via", "using", "collect", "charge",
                       "payable", "autopay", "transfer", "remit", "payé", "pagado", "bezahlt",
                       "réglé", "regle"})
_MASKED = re.compile(r"[*xX\u2022]{4}")
_LETTERHEAD_LINES = 5
_TITLE_SKIP = 3

RULE_CONFIDENCE: dict[str, float] = {
    "letterhead": 0.78,
    "letterhead_legal_form": 0.86,
    "signature": 0.8,
    "paid_stamp": 0.9,
    "paid_sentence": 0.82,
    "receipt_is_paid": 0.86,
    "item_rows": 0.84,
    "bare_date": 0.8,
    "address_block_email": 0.84,
    "sent_to_email": 0.86,
    "sender_email": 0.82,
    "recipient_email": 0.82,
    "invoice_mention": 0.8,
    "sender_name": 0.8,
    "mail_date": 0.8,
    "id_mention": 0.82,
    "amount_sentence": 0.8,
    "excess_sentence": 0.8,
    "loss_sentence": 0.82,
    "reported_sentence": 0.82,
    "injury_sentence": 0.82,
    "police_sentence": 0.82,
    "title_claim_type": 0.8,
    "due_sentence": 0.86,
    "relative_due": 0.8,
    "mail_issue_date": 0.8,
    "payment_sentence": 0.8,
    "law_sentence": 0.82,
    "notice_sentence": 0.82,
    "term_sentence": 0.82,
    "renewal_sentence": 0.8,
    "balance_zero": 0.84,
    "amount_paid_total": 0.82,
    "title_number": 0.82,
    "place_date": 0.8,
}
"""Confidence per rule, below a labelled reading's (see docs/extraction.md, calibration)."""


@dataclass(frozen=True, slots=True)
class Found:
    """A value a rule read: ``raw`` sits at ``col`` in 1-based ``line``; ``value`` is set
    when the rule already knows the typed value (a stamp's ``True``)."""

    raw: str
    line: int
    col: int
    rule: str
    value: Any = None

    @property
    def confidence(self) -> float:
        return RULE_CONFIDENCE[self.rule]


class Context:
    """What every rule needs from one document, computed once."""

    def __init__(self, lines: Sequence[str], kind: str | None) -> None:
        self.lines = list(lines)
        self.kind = kind
        self.clean = [clean_line(line) for line in self.lines]
        self.letterhead = _letterhead(self.clean)
        self.head_domains = {m.group().rsplit("@", 1)[1].lower()
                             for i in self.letterhead for m in _EMAIL.finditer(self.lines[i])}
        self.passages = passages(self.lines)
        """The lines with wrapped sentences joined (:mod:`.wrapped`): what sentence rules
        scan, so a date or a method on the line after its sentence's verb is still read."""

    @classmethod
    def of(cls, lines: Sequence[str]) -> Context:
        return cls(lines, detect_kind(lines))


def _letterhead(clean: list[str]) -> range:
    """The top block: consecutive lines from the first non-empty one up to a blank line, a
    document title or a ``label: value`` line (where the document's body starts)."""
    first = next((i for i, text in enumerate(clean) if text), len(clean))
    if first < len(clean) and split_pair(clean[first]) is not None:
        return range(first, first)  # the document opens with a label: no letterhead
    end = first
    while end < min(len(clean), first + _LETTERHEAD_LINES):
        text = clean[end]
        pair = split_pair(text) if text else None
        contact = pair is not None and tokens(pair[0])[:1] and tokens(pair[0])[0] in _CONTACT_WORDS
        if not text or (pair is not None and not contact) or (end > first and (
                (len(text.split()) <= 3 and detect_kind([text]) is not None)
                or _starts_with_label(text))):
            break
        end += 1
    return range(first, end)


_NAME_CONNECTORS = frozenset({"of", "and", "&", "de", "von", "van", "der", "la", "le", "du",
                              "di", "da", "y", "the", "for"})
_CONTACT_WORDS = frozenset({"email", "e", "mail", "tel", "phone", "fax", "web", "www",
                            "contact", "telephone", "mobile"})


def _starts_with_label(text: str) -> bool:
    """Whether a line opens with a lexicon label other than a contact one (``Invoice number
    SD-1``): the document's body has begun, the letterhead is over."""
    toks = tokens(text)
    if not toks or toks[0] in _CONTACT_WORDS:
        return False
    labels = _all_labels()
    return any(toks[:k] in labels for k in range(1, min(4, len(toks))))


@functools.cache
def _all_labels() -> frozenset[tuple[str, ...]]:
    lex = load()
    return frozenset().union(*(r.labels.union(*r.kind_labels.values())
                               for r in lex.roles.values()))


def _at(ctx: Context, i: int, raw: str, rule: str, value: Any = None) -> Found | None:
    col = ctx.lines[i].find(raw)
    return None if col < 0 else Found(raw, i + 1, col, rule, value)


def _in(ctx: Context, p: Passage, start: int, end: int, rule: str,
        value: Any = None) -> Found:
    """A hit at ``p.text[start:end]``, located in the original lines (its raw keeps the line
    break of a wrapped sentence, so provenance offsets still match the document)."""
    line, col, raw = p.locate(start, end, ctx.lines)
    return Found(raw, line + 1, col, rule, value)


def _unique(found: list[Found], key: Callable[[Found], Any]) -> Found | None:
    """The first candidate when every candidate agrees; ``None`` on a tie of differing ones."""
    return found[0] if found and len({key(f) for f in found}) == 1 else None


Rule = Callable[[Context, FieldSpec], "Found | None"]


# ---------------------------------------------------------------------------- the seller
def letterhead(ctx: Context, field: FieldSpec) -> Found | None:
    """The first name-like line at the top (a title like ``INVOICE`` skipped), on a document
    whose letterhead is the seller's (:data:`_SELLER_LETTERHEAD`)."""
    if ctx.kind not in _SELLER_LETTERHEAD:
        return None
    seen = 0
    for i, text in enumerate(ctx.clean):
        if not text:
            continue
        seen += 1
        if seen > _TITLE_SKIP:
            return None
        if detect_kind([text]) is not None and len(text.split()) <= 3:
            continue
        text = _TITLE_DASH.split(text, maxsplit=1)[0]  # ``Acme Security — Service Agreement``
        parts = cells(text)
        if len(parts) == 2 and detect_kind([parts[1]]) is not None and (
                len(parts[1].split()) <= 3):
            text = parts[0]  # ``NORTHWIND GARDEN SERVICES        INVOICE``: name, then title
        if set(tokens(text)) & load().title_words and not _LEGAL.search(text + " "):
            continue
        if not _name_like(text) or _starts_with_label(text) or _body_lines(ctx) < 3:
            return None
        full = _full_name(ctx, text) if not _LEGAL.search(text + " ") else None
        if full is not None:
            return full
        rule = "letterhead_legal_form" if _LEGAL.search(text + " ") else "letterhead"
        return _at(ctx, i, text, rule)
    return None


_SIGN_OFF = re.compile(r"^\s*(?:(?:many|best|kind|warm|with)\s+)?(?:thanks|thank\s+you|regards|"
                       r"wishes|cheers|sincerely|best)(?:\s+\w+){0,2},?\s*$|^\s*--\s*$",
                       re.IGNORECASE)
_SIGNATURE_LINES = 6
_SIGNED_BY_SELLER = frozenset({"invoice", "receipt", "statement", "credit_note"})
_SIGNATURE_CUT = re.compile(r"\s+(?:[\u00b7|\u2013\u2014-]|\u2022)\s+|,\s+")


def signature(ctx: Context, field: FieldSpec) -> Found | None:
    """The seller of an invoice or receipt sent as an e-mail, named in its signature (the
    lines after the last sign-off, ``Thanks,`` / ``--``): the name that spells the sender's
    mail domain (``Ortega Webworks`` for ``sam@ortega-webworks.example``, ``Lena Hart
    Design`` for ``studio@lenahart.example``), cut after a legal form (``Brightpath IT Ltd
    accounts team``). Of nested names the longest (the business, not the person); names
    that spell the domain differently tie: empty. Not on an agreement: either party may
    send one (a signed contract comes back from the customer)."""
    if ctx.kind not in _SIGNED_BY_SELLER:
        return None
    headers = _mail_headers(ctx)
    senders = _EMAIL.findall(headers.get("from", (0, ""))[1])
    if len(senders) != 1:
        return None
    domain = re.sub(r"[^a-z]", "", senders[0].lower().rsplit("@", 1)[1].rsplit(".", 1)[0])
    marks = [i for i, t in enumerate(ctx.clean) if _SIGN_OFF.match(t)]
    if len(domain) < 4 or not marks:
        return None
    found: list[Found] = []
    for i in range(marks[-1] + 1, min(len(ctx.clean), marks[-1] + 1 + _SIGNATURE_LINES)):
        text = _SIGNATURE_CUT.split(ctx.clean[i].strip(), maxsplit=1)[0]
        legal = _LEGAL.search(text + " ")
        if legal is not None:
            text = text[: legal.end()].strip()
        letters = re.sub(r"[^a-z]", "", text.lower())
        if not text or not _name_like(text) or not letters.startswith(domain):
            continue
        hit = _at(ctx, i, text, "signature")
        if hit is not None:
            found.append(hit)
    found.sort(key=lambda f: -len(f.raw))
    if found and all(found[0].raw.lower().startswith(f.raw.lower()) for f in found):
        return found[0]
    return None


def _body_lines(ctx: Context) -> int:
    return sum(1 for text in ctx.clean if text)


_TITLE_DASH = re.compile(r"\s+[\u2014\u2013|-]\s+")


_SELLER_LETTERHEAD = frozenset({"invoice", "receipt", "statement", "credit_note", "agreement"})
"""Kinds of document whose letterhead is the seller's or provider's: a purchase order's is
the buyer's, and a form's (onboarding, delivery note) need not be either."""


def _full_name(ctx: Context, head: str) -> Found | None:
    """``TIDAL WAVE MARINE SUPPLY`` at the top and ``Tidal Wave Marine Supply GmbH`` in the
    footer: the name with its legal form, as the document writes it elsewhere."""
    pattern = re.compile(rf"{re.escape(head)}\s*,?\s+(?:{LEGAL_FORM})\.?(?=\s|$|[,;)])",
                         re.IGNORECASE)
    found: list[Found] = []
    for i, line in enumerate(ctx.lines):
        for m in pattern.finditer(line):
            raw = m.group()
            if raw.endswith(".") and not _DOTTED_FORM.search(raw):
                raw = raw[:-1]  # ``... Supply GmbH.`` ends a sentence, not the name
            found.append(Found(raw, i + 1, m.start(), "letterhead_legal_form"))
    return _unique(found, lambda f: f.raw)


_DOTTED_FORM = re.compile(r"\b(?:Inc|Ltd|Co|Corp|Pty|S\.A|B\.V|N\.V|L\.L\.C|S\.p\.A|K\.K|S\.L)\.$",
                          re.IGNORECASE)


def _name_like(text: str) -> bool:
    words = text.split()
    letters = sum(ch.isalpha() for ch in text)
    digits = sum(ch.isdigit() for ch in text)
    capitalised = all(w[:1].isupper() or w[:1].isdigit() or not w[:1].isalpha()
                      or w in _NAME_CONNECTORS for w in words)
    return (0 < len(words) <= 7 and letters >= 3 and digits * 4 <= letters and capitalised
            and not any(ch in text for ch in ":@|/\\") and split_pair(text) is None
            and tokens(text)[:1] not in (("tel",), ("phone",), ("page",), ("www",)))


# ---------------------------------------------------------------------------- paid
def paid(ctx: Context, field: FieldSpec) -> Found | None:
    """A stamp line (``PAID``, ``*** PAID IN FULL ***``), else a sentence (``settled in
    full``), else a receipt (a receipt records a payment). Contradicting lines give nothing."""
    stamps: list[Found] = []
    sentences: list[Found] = []
    prose: set[int] = set()  # lines that may hold a paid sentence (no label, no stamp)
    for i, text in enumerate(ctx.clean):
        core = text.strip(" *!.-=#[]()")
        if not core or ":" in core or len(core.split()) > 6:
            if core and ":" not in core:
                prose.add(i)
            continue
        verdict = paid_phrase(core)
        if verdict is None and _TITLE_DASH.search(core):  # ``OVERDUE - please pay now``
            head = _TITLE_DASH.split(core, maxsplit=1)[0].strip(" *!.-=#[]()")
            verdict = paid_phrase(head) if head.isupper() else None
            core = head if verdict is not None else core
        if verdict is not None:
            found = _at(ctx, i, core, "paid_stamp", verdict)
            if found is not None:
                stamps.append(found)
        else:
            prose.add(i)
    for p in ctx.passages:
        if (":" not in p.text) if p.joined else (p.first in prose):
            sentences += _paid_sentences(ctx, p)
        m = _UNPAID_SENTENCE.search(p.text)
        if m is not None:
            sentences.append(_in(ctx, p, *m.span(), "paid_sentence", False))
    for group in (stamps, sentences, _balance_lines(ctx)):
        if group:
            return _unique(group, lambda f: f.value)
    if ctx.kind == "receipt":
        i = next((k for k, t in enumerate(ctx.clean) if t), 0)
        return Found(ctx.lines[i].strip(), i + 1, ctx.lines[i].find(ctx.lines[i].strip()),
                     "receipt_is_paid", True) if ctx.lines[i].strip() else None
    return None


_PAID_SENTENCE = re.compile(r"\b(?:paid|settled)\s+in\s+full\b|\bthank\s+you\s+for\s+your\s+"
                            r"payment\b|\bpayment\s+received\b|\bhas\s+been\s+paid\b"
                            r"|^\s*(?:this\s+\w+\s+was\s+)?paid\s+(?:on|with|by|via|using)\s+(?=\S)",
                            re.IGNORECASE)
"""``Paid on 7 May with Mastercard ending 5521`` (a sentence that *starts* with ``paid``: a
``to be paid by`` or ``must be paid on`` is an instruction, not a record)."""
_LEDGER_AMOUNT = re.compile(
    r"(?:^|\s)(?:-\s*[$€£¥]?\s*\d|\(\s*[$€£¥]?\s*\d[\d,.]*\)|[$€£¥]\s*-\s*\d)")
"""A negative amount (``-£118.20``, ``(118.20)``): the line is a ledger entry for an earlier
payment (``Payment received 06 Jan - thank you   -£118.20`` on a bill), not this document's
state."""


_UNPAID_SENTENCE = re.compile(
    r"\b(?:is|are|remains?|still)\s+(?:still\s+)?(?:unpaid|overdue|outstanding|past\s+due)\b",
    re.IGNORECASE)
"""``invoice BP-1 is still unpaid``, ``remains outstanding``: a sentence saying it is not paid
(a paid sentence elsewhere in the document makes the two disagree: empty)."""


_BALANCE = re.compile(
    r"^\W*(?P<label>(?:balance|amount|total)\s+(?:due|owing|outstanding|remaining|to\s+pay)"
    r"|(?:outstanding|remaining|unpaid|open)\s+(?:balance|amount)|balance|left\s+to\s+pay)"
    r"\W{0,3}\s*(?:[A-Z]{3}\s*)?[$\u20ac\u00a3\u00a5]?\s*(?P<amount>\d[\d,.' ]*\d|\d)\W*$",
    re.IGNORECASE)
_AMOUNT_PAID = re.compile(
    r"^\W*(?:amount|total)\s+(?:paid|received)\W{0,3}\s*(?:[A-Z]{3}\s*)?"
    r"[$\u20ac\u00a3\u00a5]?\s*(?P<amount>\d[\d,.' ]*\d)\W*$", re.IGNORECASE)
_TOTAL_LINE = re.compile(
    r"^\W*(?:grand\s+)?total(?:\s+amount)?\W{0,3}\s*(?:[A-Z]{3}\s*)?"
    r"[$\u20ac\u00a3\u00a5]?\s*(?P<amount>\d[\d,.' ]*\d)\W*$", re.IGNORECASE)


def _amount(text: str) -> float | None:
    digits = re.sub(r"[,' ]", "", text)
    try:
        return float(digits)
    except ValueError:
        return None


def _sums(i: int, line: str, totals: set[float],
          paid_amounts: list[tuple[int, str, float]]) -> None:
    """Collect a ``Total`` line's amount or an ``Amount paid`` line's (above zero)."""
    m = _TOTAL_LINE.match(line)
    if m is not None:
        value = _amount(m.group("amount"))
        if value is not None:
            totals.add(value)
        return
    m = _AMOUNT_PAID.match(line)
    if m is not None:
        value = _amount(m.group("amount"))
        if value is not None and value > 0:
            paid_amounts.append((i, m.group("amount"), value))


def _balance_lines(ctx: Context) -> list[Found]:
    """What the totals block says once the stamps and sentences are silent: a balance of
    ``0.00`` (``Balance due 0.00``, ``Amount due: $0.00``) means paid; ``Amount paid`` equal
    to the one ``Total`` means paid. A balance above zero says nothing, even an *outstanding*
    one: ``Outstanding balance``, ``Amount due`` and ``Open amount`` are how bills label
    their total, paid or not. Lines that disagree give nothing (the caller's tie rule)."""
    found: list[Found] = []
    totals: set[float] = set()
    paid_amounts: list[tuple[int, str, float]] = []
    for i, text in enumerate(ctx.clean):
        line = text.replace("|", " ").strip()
        if not line or len(line) > 60:
            continue
        m = _BALANCE.match(line)
        if m is not None:
            value = _amount(m.group("amount"))
            hit = _at(ctx, i, m.group("amount"), "balance_zero", True) if value == 0 else None
            if hit is not None:
                found.append(hit)
            continue
        _sums(i, line, totals, paid_amounts)
    if 0 in totals:  # a zero total owes nothing, paid or not
        return []
    if len(totals) == 1:
        total = next(iter(totals))
        for i, raw, value in paid_amounts:
            if abs(value - total) < 0.005:
                hit = _at(ctx, i, raw, "amount_paid_total", True)
                if hit is not None:
                    found.append(hit)
    return found


def _paid_sentences(ctx: Context, p: Passage) -> list[Found]:
    text = p.text
    m = _PAID_SENTENCE.search(text)
    if m is None or re.search(r"\b(?:not|no|un|if|once|when|until|before)\b",
                              text[: m.start()], re.IGNORECASE):
        return []
    if _LEDGER_AMOUNT.search(text[m.end():]):
        return []
    start = m.start() + len(m.group()) - len(m.group().lstrip())
    end = m.end() - (len(m.group()) - len(m.group().rstrip()))
    return [_in(ctx, p, start, end, "paid_sentence", True)]


# ---------------------------------------------------------------------------- item rows
def item_rows(ctx: Context, field: FieldSpec) -> Found | None:
    """The number of rows of the one line-item table (a header naming an item and a
    quantity or price, then rows of as many cells). Two item tables give nothing."""
    if ctx.kind == "statement":
        return None
    tables: list[tuple[int, int]] = []
    i = 0
    while i < len(ctx.clean):
        row = cells(ctx.clean[i])
        words = {t for cell in row for t in tokens(cell)}
        if len(row) >= 3 and words & _HEADER_ITEM and words & _HEADER_QTY:
            count, end = _count_rows(ctx, i, len(row))
            if count:
                tables.append((i, count))
            i = max(end, i + 1)
            continue
        i += 1
    if not tables:
        return _single_item(ctx)
    if len(tables) != 1:
        return None
    header, count = tables[0]
    text = ctx.lines[header].strip()
    return Found(text, header + 1, ctx.lines[header].find(text), "item_rows", count)


def _single_item(ctx: Context) -> Found | None:
    """A one-row item table that the parser read across (``Description: Latte``, ``Qty: 2``,
    ``Amount: 3.50`` on consecutive lines): one item. Two such groups give nothing."""
    groups: list[Found] = []
    for i, text in enumerate(ctx.clean):
        pair = split_pair(text) if text else None
        if pair is None or not set(tokens(pair[0])) & _HEADER_ITEM or len(tokens(pair[0])) > 2:
            continue
        below = [split_pair(t) for t in ctx.clean[i + 1 : i + 4] if t]
        if any(p is not None and set(tokens(p[0])) & _HEADER_QTY and len(tokens(p[0])) <= 2
               for p in below):
            groups.append(Found(text, i + 1, ctx.lines[i].find(text), "item_rows", 1))
    return groups[0] if len(groups) == 1 else None


def _count_rows(ctx: Context, header: int, width: int) -> tuple[int, int]:
    count, j, blank = 0, header + 1, 0
    while j < len(ctx.clean):
        text = ctx.clean[j]
        if not text or set(text) <= set("|-:+= "):
            blank += 1
            if blank > 1:
                break
            j += 1
            continue
        row = cells(text)
        first = tokens(row[0])[:1]
        if (len(row) != width or not any(ch.isdigit() for ch in text)
                or (first and first[0] in _TOTAL_WORDS) or split_pair(text) is not None):
            break
        blank = 0
        count += 1
        j += 1
    return count, j


# ---------------------------------------------------------------------------- dates
def bare_date(ctx: Context, field: FieldSpec) -> Found | None:
    """A line that is only a date (and a time): a receipt's or a letter's date. A purchase
    order's or a statement's bare date is not an invoice date; two different dates tie."""
    if ctx.kind in ("purchase_order", "statement"):
        return None
    found: list[Found] = []
    for i, text in enumerate(ctx.clean):
        if not text or len(text) > 40 or not any(ch.isdigit() for ch in text):
            continue
        core = _TIME.sub("", text).strip(" ,")
        if not core or ":" in core:
            continue
        rule = "bare_date"
        parsed = parse_scored(field, core, Hints())
        place = _PLACE_DATE.match(core) if parsed is None else None
        if place is not None:  # ``London, 3 March 2025``: a letter's place and date
            core, rule = place.group("date"), "place_date"
            parsed = parse_scored(field, core, Hints())
        if parsed is not None:
            hit = _at(ctx, i, core, rule, parsed[0])
            if hit is not None:
                found.append(hit)
    return _unique(found, lambda f: f.value)


_PLACE_DATE = re.compile(r"^(?P<place>[A-Z][^\W\d_]+(?:[ .'-]+[A-Z]?[^\W\d_]+){0,2}\.?),\s+"
                         r"(?:(?:the|den|le|am|il)\s+)?(?P<date>\S.*\d.*)$")
"""``Bristol, 3 March 2025``, ``Geneve, 04.06.2025``: a place name (up to three words, no
digits) then a comma and the date."""


def due_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``Please pay by 14 March 2025.``, ``Payment is due on 2025-03-14``."""
    found: list[Found] = []
    for p in ctx.passages:
        for pattern in (_DUE_SENTENCE, _COLLECTED_ON):
            for m in pattern.finditer(p.text):
                rest = re.split(r"[.;!?](?:\s|$)", m.group("rest"), maxsplit=1)[0].rstrip(" .")
                for raw in (rest, *leading_values(rest, False)):
                    raw = raw.rstrip(" .,;")
                    parsed = parse_scored(field, raw, Hints())
                    if parsed is not None:
                        start = m.start("rest")
                        found.append(_in(ctx, p, start, start + len(raw), "due_sentence",
                                         parsed[0]))
                        break
    return _unique(found, lambda f: f.value)


def relative_due(ctx: Context) -> Found | None:
    """``Terms: Net 30``, ``Payment is due within 30 days``, ``payable within 14 days of the
    invoice date``: the number of days after the issue date (``value``); the caller adds them
    to an issue date it is sure of. ``Net 30`` counts only beside ``terms`` or ``days`` (else
    it may be a net amount); ``within 14 days of receipt`` (another anchor) counts not; two
    different terms give nothing."""
    found: list[Found] = []
    for p in ctx.passages:
        for m in _RELATIVE_DUE.finditer(p.text):
            if m.group("net"):
                if not (m.group("netdays") or re.search(r"\bterms?\b", p.text, re.IGNORECASE)):
                    continue
                days = int(m.group("net"))
            else:
                anchor = m.group("anchor")
                if anchor and not _ISSUE_ANCHOR.search(anchor):
                    continue
                days = int(m.group("days"))
            if 0 < days <= 120:
                found.append(_in(ctx, p, *m.span(), "relative_due", days))
    return _unique(found, lambda f: f.value)


_NOT_THE_ISSUE = re.compile(r"\b(?:remind(?:er)?|overdue|past\s+due|outstanding|final\s+notice|"
                            r"chas(?:e|er|ing)|still\s+unpaid|statement)\b|^\s*(?:re|fwd?|aw|wg)"
                            r"\s*:", re.IGNORECASE)


def mail_issue_date(ctx: Context, field: FieldSpec) -> Found | None:
    """An invoice or receipt sent as the e-mail itself, with no date in its body: the day it
    was sent (the ``Date:`` header) is the day it was issued. Not for a reminder, a reply or
    a statement (``Reminder``, ``overdue``, ``Re:`` in the subject or the body): such a
    message is sent after the invoice it is about."""
    if ctx.kind not in ("invoice", "receipt", "credit_note"):
        return None
    headers = _mail_headers(ctx)
    if "date" not in headers or "from" not in headers:
        return None
    subject = headers.get("subject", (0, ""))[1]
    if _NOT_THE_ISSUE.search(subject) or any(_NOT_THE_ISSUE.search(t) for t in ctx.clean):
        return None
    i, value = headers["date"]
    raw = re.sub(r"\s+(?:\d{1,2}:\d{2}(?::\d{2})?)\s*(?:[+-]\d{4}|[A-Z]{2,4})?.*$", "",
                 value).strip()
    parsed = parse_scored(field, raw, Hints())
    return None if parsed is None else _at(ctx, i, raw, "mail_issue_date", parsed[0])


# ---------------------------------------------------------------------------- e-mail
def customer_email(ctx: Context, field: FieldSpec) -> Found | None:
    """The e-mail inside the block under ``Bill To``/``Customer``/``Claimant``, or the one a
    receipt was ``e-mailed to``; never the letterhead's or a ``Questions? Contact`` line's,
    never one of the issuer's domain. Two different addresses give nothing."""
    if ctx.kind == "purchase_order":
        return None
    found: list[Found] = []
    for i, line in enumerate(ctx.lines):
        m = SENT_TO.search(line)
        if m:
            raw = (m.group("email") or m.group("them") or m.group("client")
                   or m.group("copy")).rstrip(".,;")
            found.append(Found(raw, i + 1, line.find(raw), "sent_to_email"))
    if not found:
        for i in _customer_block_lines(ctx):
            for m in _EMAIL.finditer(ctx.lines[i]):
                if m.group().rsplit("@", 1)[1].lower() not in ctx.head_domains:
                    found.append(Found(m.group(), i + 1, m.start(), "address_block_email"))
    if not found and ctx.kind in _SELLER_LETTERHEAD:
        recipient = recipient_email(ctx)
        if recipient is not None:
            found.append(recipient)
    return _unique(found, lambda f: f.raw.lower())


def recipient_email(ctx: Context) -> Found | None:
    """An invoice, receipt or statement sent as an e-mail goes from the seller to the
    customer: the one ``To:`` address, on another domain than the ``From:`` and than the
    letterhead's."""
    headers = _mail_headers(ctx)
    if "to" not in headers:
        return None
    i, value = headers["to"]
    to = _EMAIL.findall(value)
    senders = _EMAIL.findall(headers["from"][1])
    if len(to) != 1 or len(senders) != 1:
        return None
    domain = to[0].lower().rsplit("@", 1)[1]
    if domain == senders[0].lower().rsplit("@", 1)[1] or domain in ctx.head_domains:
        return None
    return _at(ctx, i, to[0], "recipient_email")


_INVOICE_MENTION = re.compile(
    r"(?:^subject:[^@\n]{0,40}?|\b(?:my|our|the|this|that|attached|enclosed|your)\s+)"
    r"invoice\s+(?:(?:no|nr|number|num)\.?\s*|#\s*)?:?\s*"
    r"(?P<id>(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/-]{2,30})(?![\w.,%/-]*\d)(?!\s*%)",
    re.IGNORECASE)
_NOT_AN_ID = re.compile(r"^(?:19|20)\d\d$|^\d{1,2}[/-]\d{1,2}[/-]\d{2,4}$")


def invoice_mention(ctx: Context, field: FieldSpec) -> Found | None:
    """``Please find attached invoice 1093``, ``Subject: Invoice 1093 - March``: the number
    an invoice's own text gives it, in an e-mail's subject or in a sentence (``my``/``our``/
    ``the``/``attached`` invoice; a bare ``Invoice INV-7`` line is a ``Label value`` pair,
    for the label rules). Two different numbers give nothing."""
    if ctx.kind != "invoice":
        return None
    found: list[Found] = []
    for i, line in enumerate(ctx.lines):
        for m in _INVOICE_MENTION.finditer(line):
            raw = m.group("id").rstrip("/-")
            if _NOT_AN_ID.match(raw) or not any(ch.isdigit() for ch in raw):
                continue
            found.append(Found(raw, i + 1, m.start("id"), "invoice_mention"))
    return _unique(found, lambda f: f.raw.upper())


_TITLE_NUMBER = re.compile(
    r"^[\W_]*(?:tax\s+|commercial\s+|proforma\s+|pro-forma\s+)?"
    r"(?:invoice|receipt|bill|credit\s+note|folio|fee\s+note)"
    r"(?:\s+(?:no|nr|number|num)\b\.?|\s*#)?\s+#?"
    r"(?P<id>(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/-]{1,30}(?:\s*/\s*\d{2,4})?)[\W_]*$",
    re.IGNORECASE)
_TITLE_NUMBER_LINES = 6


def title_number(ctx: Context, field: FieldSpec) -> Found | None:
    """``INVOICE INV-2041``, ``# Fee note no. FN-5521``, ``Invoice 2041 / 2025``: the number
    printed in the document's title line, among the first few lines. The whole line must be
    the title and the number (a line that goes on is prose; a ``Receipt No.: R-1`` line is a
    label, for the label rules and their kind checks); a year or a date is no number;
    two different title numbers give nothing. A statement or a purchase order has no invoice
    number of its own (its number is the account's or the order's)."""
    if ctx.kind in ("purchase_order", "statement"):
        return None
    found: list[Found] = []
    seen = 0
    for i, text in enumerate(ctx.clean):
        if not text.strip():
            continue
        seen += 1
        if seen > _TITLE_NUMBER_LINES:
            break
        m = _TITLE_NUMBER.match(text.strip())
        if m is None:
            continue
        raw = m.group("id")
        if _NOT_AN_ID.match(raw) or not any(ch.isdigit() for ch in raw):
            continue
        hit = _at(ctx, i, raw, "title_number")
        if hit is not None:
            found.append(hit)
    return _unique(found, lambda f: f.raw.upper())


def _customer_block_lines(ctx: Context) -> list[int]:
    """Lines of blocks opened by a customer label (``Bill To:``), up to a blank line."""
    out: list[int] = []
    for i, text in enumerate(ctx.clean):
        if i in ctx.letterhead:
            continue
        head = tokens(text.split(":", 1)[0])
        if not head or len(head) > 3 or not set(head) & _CUSTOMER_CUES:
            continue
        if set(head) & _VENDOR_CUES:
            continue
        out.append(i)
        for j in range(i + 1, min(len(ctx.clean), i + 8)):
            if not ctx.clean[j]:
                if j == i + 1:
                    continue
                break
            if split_pair(ctx.clean[j]) is not None and "@" not in ctx.clean[j]:
                break
            out.append(j)
    return out


# ---------------------------------------------------------------------------- claims
_HEADER_FIELD = re.compile(r"(?P<name>from|to|subject|date|sent|cc)\s*:\s*(?P<value>.*)",
                           re.IGNORECASE)
_HEADER_LINES = 10
_ROLE_MAILBOXES = frozenset({"claims", "claim", "noreply", "no-reply", "donotreply", "support",
                             "info", "service", "help", "admin", "office", "contact", "hello",
                             "notifications", "mailer-daemon", "postmaster", "newclaims"})
"""Local parts of shared mailboxes: an insurer's or a company's desk, never the claimant."""


def _mail_headers(ctx: Context) -> dict[str, tuple[int, str]]:
    """``From``/``To``/``Subject``/``Date`` of a pasted e-mail at the top of the document (its
    first header lines), or of the original message under a ``Forwarded message`` line (the
    last one: who first wrote), by lower-case name; empty when it is not an e-mail."""
    start = 0
    for i, text in enumerate(ctx.clean):
        if _FORWARD_MARK.search(text):
            start = i + 1  # a forwarded message: the original's headers say who wrote it
    found: dict[str, tuple[int, str]] = {}
    for i in range(start, min(len(ctx.clean), start + _HEADER_LINES)):
        m = _HEADER_FIELD.fullmatch(ctx.clean[i])
        if m:
            found.setdefault(m.group("name").casefold(), (i, m.group("value")))
    return found if "from" in found and ({"to", "subject"} & found.keys()) else {}


_FORWARD_MARK = re.compile(r"^[-_=\s>]*(?:forwarded\s+message|original\s+message|begin\s+"
                           r"forwarded\s+message)\b", re.IGNORECASE)


def mail_header_lines(ctx: Context) -> frozenset[int]:
    """1-based lines of an e-mail's header block(s) at the top and under a forward mark."""
    out: set[int] = set()
    starts = [0] + [i + 1 for i, t in enumerate(ctx.clean) if _FORWARD_MARK.search(t)]
    for start in starts:
        block: dict[int, str] = {}
        for i in range(start, min(len(ctx.clean), start + _HEADER_LINES)):
            m = _HEADER_FIELD.fullmatch(ctx.clean[i])
            if m:
                block[i] = m.group("name").casefold()
        names = set(block.values())
        if "from" in names and names & {"to", "subject"}:
            out.update(i + 1 for i in block)
    return frozenset(out)


def sender_email(ctx: Context) -> Found | None:
    """The claimant's address in a claim sent by e-mail: the ``From:`` of the message, when
    it is a person's mailbox (not ``claims@``, ``noreply@``...) on another domain than the
    ``To:`` address (a reply from the insurer's own desk is not the claimant)."""
    headers = _mail_headers(ctx)
    if not headers:
        return None
    i, value = headers["from"]
    senders = _EMAIL.findall(value)
    if len(senders) != 1:
        return None
    sender = senders[0]
    local, domain = sender.lower().rsplit("@", 1)
    to = {a.lower().rsplit("@", 1)[1] for a in _EMAIL.findall(headers.get("to", (0, ""))[1])}
    if local in _ROLE_MAILBOXES or domain in to:
        return None
    return _at(ctx, i, sender, "sender_email")


_DISPLAY_NAME = re.compile(r"^\s*\"?(?P<name>[^\W\d_][^<>\"@,;]{1,60}?)\"?\s*<")


def sender_name(ctx: Context, field: FieldSpec) -> Found | None:
    """The policyholder of a claim sent by e-mail: the ``From:`` display name (``Priya Raman
    <priya@...>``), under :func:`sender_email`'s conditions (a person writing to another
    domain), when it reads as a person's name (two to four capitalised words)."""
    if sender_email(ctx) is None:
        return None
    i, value = _mail_headers(ctx)["from"]
    m = _DISPLAY_NAME.match(value)
    if m is None:
        return None
    name = m.group("name").strip()
    words = name.split()
    if not 2 <= len(words) <= 4 or not all(w[:1].isupper() for w in words) or _LEGAL.search(
            name + " "):
        return None
    return _at(ctx, i, name, "sender_name")


def mail_date(ctx: Context, field: FieldSpec) -> Found | None:
    """The day a claim was reported, when the claim is an e-mail from the claimant: the
    message's ``Date:`` header (the day it was sent), under :func:`sender_email`'s
    conditions."""
    headers = _mail_headers(ctx)
    if "date" not in headers or sender_email(ctx) is None:
        return None
    i, value = headers["date"]
    raw = re.sub(r"\s+(?:\d{1,2}:\d{2}(?::\d{2})?)\s*(?:[+-]\d{4}|[A-Z]{2,4})?.*$", "",
                 value).strip()
    parsed = parse_scored(field, raw, Hints())
    return None if parsed is None else _at(ctx, i, raw, "mail_date", parsed[0])


_ID_MENTION = re.compile(
    r"\b(?P<word>policy|claim)\s+(?:no\.?|nr\.?|number|#|ref(?:erence)?\.?)\s*:?\s*(?:is\s+)?"
    r"(?P<id>(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/-]{2,30})(?![\w.,%/-]*\d)", re.IGNORECASE)


def _id_mention(word: str) -> Rule:
    """``under my contents policy, policy no. CT-4471902``: the identifier a sentence names
    after ``policy no.`` / ``claim number`` (the label rules read ``Policy No: X`` lines;
    this reads the prose). Two different identifiers give nothing."""
    def read(ctx: Context, field: FieldSpec) -> Found | None:
        found: list[Found] = []
        for p in ctx.passages:
            for m in _ID_MENTION.finditer(p.text):
                raw = m.group("id").rstrip("/-")
                if m.group("word").lower() == word and any(ch.isdigit() for ch in raw):
                    start = m.start("id")
                    found.append(_in(ctx, p, start, start + len(raw), "id_mention"))
        return _unique(found, lambda f: f.raw.upper())
    return read


_AMOUNT_SENTENCE = re.compile(
    r"\b(?:estimate[sd]?|valued?|put)\b(?:\s+(?:of\s+)?(?:the\s+)?(?:total\s+)?"
    r"(?:loss|damage|claim|cost|repairs?|items?))?(?:\s+\w+){0,2}?\s+(?:at|is|of|to\s+be)\s+"
    r"(?:about\s+|around\s+|approximately\s+)?(?P<money>(?:[A-Z]{3}\s?|[$€£])\d[\d,]*(?:\.\d{2})?)",
    re.IGNORECASE)


def amount_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``I estimate the damage at GBP 5,200``, ``the initial estimate of the loss is GBP
    6,950.00``: the amount a sentence puts on the claim. Two different amounts tie."""
    found: list[Found] = []
    for p in ctx.passages:
        for m in _AMOUNT_SENTENCE.finditer(p.text):
            parsed = parse_scored(field, m.group("money"), Hints())
            if parsed is not None:
                found.append(_in(ctx, p, *m.span("money"), "amount_sentence", parsed[0]))
    return _unique(found, lambda f: repr(f.value))


_EXCESS_SENTENCE = re.compile(
    r"\b(?:excess|deductible)\s+(?:is|of|will\s+be|amounts\s+to|applies\s+of)\s+"
    r"(?P<money>(?:[A-Z]{3}\s?|[$€£])?\d[\d,]*(?:\.\d{2})?)(?![\d%])", re.IGNORECASE)


def excess_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``The policy excess is £250.``: the deductible a sentence states. Two differ: empty."""
    found: list[Found] = []
    for p in ctx.passages:
        for m in _EXCESS_SENTENCE.finditer(p.text):
            parsed = parse_scored(field, m.group("money"), Hints())
            if parsed is not None:
                found.append(_in(ctx, p, *m.span("money"), "excess_sentence", parsed[0]))
    return _unique(found, lambda f: repr(f.value))


def contact_email(ctx: Context, field: FieldSpec) -> Found | None:
    """The claimant's e-mail: as for a customer (address block, ``sent to``), else the sender
    of a claim e-mail."""
    return customer_email(ctx, field) or sender_email(ctx)


_MONTH_WORD = r"(?:\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun)"
_COLLECTED_ON = re.compile(
    r"\b(?:will|shall|to|'ll)\s+(?:be\s+)?(?:\w+\s+){0,2}?(?:collect(?:ed)?|debit(?:ed)?|"
    r"tak(?:en|e))\b[^.;!?]{0,70}?\bon\s+(?:or\s+(?:just\s+)?after\s+)?(?:the\s+)?(?P<rest>"
    + _MONTH_WORD + r".*)", re.IGNORECASE)
"""``Your payment will be collected by Direct Debit on 9 July 2025``, ``We will collect the
amount ... on or after 14 May 2025``: the day a bill is collected is its due date (as a
``Collection date`` label says); a past ``was collected on`` is a record, not a due date."""
_RELATIVE_DUE = re.compile(
    r"\bnet\s?(?P<net>\d{1,3})(?P<netdays>\s+days?)?\b(?![.,]\d)"
    r"|\b(?:due|payable(?:\s+in\s+full)?|pay(?:ment)?(?:\s+is)?(?:\s+due)?|settle(?:d|ment)?|"
    r"remit(?:ted)?|be\s+paid)\s+(?:with)?in\s+(?P<days>\d{1,3})\s+(?:calendar\s+)?days?\b"
    r"(?:\s+(?:of|from|after)\s+(?P<anchor>(?:the\s+)?[\w' ]{1,30}?))?(?=\s*(?:[.,;)]|$))",
    re.IGNORECASE)
_ISSUE_ANCHOR = re.compile(r"\b(?:invoice|issue|bill|billing|statement|fee\s+note|this\s+"
                           r"(?:invoice|bill|notice))\b(?:\s+date)?|\b(?:date\s+of\s+"
                           r"(?:invoice|issue|this\s+invoice))\b", re.IGNORECASE)
_LOSS_VERBS = (r"(?:occurred|happened|took\s+place|broken\s+into|burgled|stolen|damaged|"
               r"destroyed|caught\s+fire|flooded|collided|crashed|burst|failed|leaked|escaped|"
               r"collapsed|broke|started|fell|slipped)")
_LOSS_SENTENCE = re.compile(
    r"\b" + _LOSS_VERBS + r"(?:\s+in\s+the\s+\w+)?\s+on\s+(?:the\s+)?(?P<rest>"
    + _MONTH_WORD + r".*)",
    re.IGNORECASE)
_LOSS_LEAD = re.compile(
    r"(?:^|[.!?]\s+)On\s+(?:the\s+)?(?P<rest>" + _MONTH_WORD + r"[^.;!?]{0,30}?\d{4}"
    r"[^.;!?]{0,80}?\b" + _LOSS_VERBS + r"\b.*)", re.IGNORECASE)
"""``On 19 September 2025 a washing machine hose failed``: the date first, then the loss."""
_REPORTED_SENTENCE = re.compile(
    r"\b(?:notif(?:ied|ying)\s+us(?:\s+of\s+(?:your|the|this)\s+(?:claim|loss|incident))?|"
    r"(?:claim|loss|incident)\s+was\s+(?:reported|notified|lodged|received|submitted)"
    r"(?:\s+to\s+us)?|reported\s+(?:it|this|the\s+(?:claim|loss|incident))\s+to\s+us)"
    r"\s+on\s+(?:the\s+)?(?P<rest>" + _MONTH_WORD + r".*)", re.IGNORECASE)


def _date_sentence(pattern: re.Pattern[str], rule: str) -> Rule:
    """A date stated in a sentence after a verb that says what it dates (``was broken into
    on Saturday 1 November 2025``); two different dates leave the cell empty."""
    def read(ctx: Context, field: FieldSpec) -> Found | None:
        found: list[Found] = []
        for p in ctx.passages:
            for m in pattern.finditer(p.text):
                rest = re.split(r"[.;!?](?:\s|$)", m.group("rest"), maxsplit=1)[0].strip(" ,")
                for raw in (rest, *leading_values(rest, False)):
                    raw = raw.rstrip(" .,;")
                    parsed = parse_scored(field, raw, Hints())
                    if parsed is not None:
                        start = m.start("rest")
                        found.append(_in(ctx, p, start, start + len(raw), rule, parsed[0]))
                        break
        return _unique(found, lambda f: f.value)
    return read


_COUNT_WORDS = {w: n for n, w in enumerate(
    "no one two three four five six seven eight nine ten".split())}
_NOBODY_HURT = re.compile(
    r"\b(?:nobody|no\s*-?\s*one|none\s+of\s+us|no\s+person|no\s+persons|no\s+people)\s+"
    r"(?:was|were|got|has\s+been|have\s+been)\s+(?:injured|hurt)\b"
    r"|\bthere\s+were\s+no\s+injuries\b|\bno\s+(?:one|body)\s+(?:was\s+)?(?:injured|hurt)\b"
    r"|\bwithout\s+(?:any\s+)?injur(?:y|ies)\b|\bno\s+injuries\s+(?:were\s+)?"
    r"(?:reported|sustained|occurred)\b", re.IGNORECASE)
_SOME_HURT = re.compile(
    r"\b(?P<n>\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)\s+"
    r"(?:people|persons|passengers|occupants|pedestrians|employees|guests|visitors)\s+"
    r"(?:was|were|got|have\s+been)\s+(?:injured|hurt)\b", re.IGNORECASE)


def injury_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``Nobody was injured.`` -> 0, ``Two passengers were injured`` -> 2; disagreeing
    sentences leave the cell empty."""
    found: list[Found] = []
    for p in ctx.passages:
        for m in _NOBODY_HURT.finditer(p.text):
            found.append(_in(ctx, p, *m.span(), "injury_sentence", 0))
        for m in _SOME_HURT.finditer(p.text):
            word = m.group("n").casefold()
            n = int(word) if word.isdigit() else _COUNT_WORDS[word]
            found.append(_in(ctx, p, *m.span(), "injury_sentence", n))
    return _unique(found, lambda f: f.value)


_POLICE_YES = re.compile(
    r"\b(?:reported|notified|informed|called|contacted)\s+(?:(?:it|this|the\s+\w+)\s+)?"
    r"(?:to\s+)?the\s+police\b|\bpolice\s+(?:attended|were\s+(?:called|notified|informed|"
    r"contacted)|report\s+(?:was|has\s+been)\s+(?:filed|made))\b|\bcrime\s+(?:reference|"
    r"ref|number)\b", re.IGNORECASE)
_POLICE_NO = re.compile(
    r"\b(?:not|never|n't)\s+(?:\w+\s+)?(?:report(?:ed)?|notif(?:y|ied)|inform(?:ed)?|"
    r"call(?:ed)?|contact(?:ed)?)\s+"
    r"(?:(?:it|this|the\s+\w+)\s+)?(?:to\s+)?the\s+police\b|\bpolice\s+(?:were|was)\s+not\s+"
    r"(?:called|notified|informed|involved|contacted)\b|\bno\s+police\s+report\b|\bpolice\s+"
    r"(?:did\s+not|didn't)\s+attend\b", re.IGNORECASE)


def police_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``I reported the burglary to the police`` / a crime reference -> yes; ``the police
    were not called`` -> no. A sentence of each kind contradicts: empty."""
    found: list[Found] = []
    for p in ctx.passages:
        negated = [(m, False) for m in _POLICE_NO.finditer(p.text)]
        spans = [m.span() for m, _ in negated]
        affirmed = [(m, True) for m in _POLICE_YES.finditer(p.text)
                    if not any(a <= m.start() < b or m.start() <= a < m.end() for a, b in spans)]
        for m, value in negated + affirmed:
            found.append(_in(ctx, p, *m.span(), "police_sentence", value))
    return _unique(found, lambda f: f.value)


def title_claim_type(ctx: Context, field: FieldSpec) -> Found | None:
    """A claim's kind named by its title or its e-mail subject: ``Vehicle Incident Report``
    -> ``auto``, ``Subject: stolen bicycle`` -> ``theft``. Only the first three title-like
    lines (or the subject); titles naming two kinds give nothing."""
    headers = _mail_headers(ctx)
    if "subject" in headers:
        i, text = headers["subject"]
    else:
        titles = [j for j, t in enumerate(ctx.clean[:_LETTERHEAD_LINES])
                  if t and ":" not in t and len(t.split()) <= 8][:_TITLE_SKIP]
        found: list[Found] = []
        for j in titles:  # ``CROWNSHIELD INSURANCE`` then ``Motor Claim Form``
            value = enum_from_phrase(ctx.clean[j], field.values or [], _value_aliases(field))
            hit = _at(ctx, j, ctx.clean[j], "title_claim_type", value) if value else None
            if hit is not None:
                found.append(hit)
        return _unique(found, lambda f: f.value)
    value = enum_from_phrase(text, field.values or [], _value_aliases(field))
    if value is None:
        return None
    col = ctx.lines[i].find(text)
    return None if col < 0 else Found(text, i + 1, col, "title_claim_type", value)


# ---------------------------------------------------------------------------- enum
def payment_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``Paid with Mastercard ending 5521``, ``collected by SEPA Direct Debit``, ``VISA
    **** 4411``: a sentence about paying that names exactly one of the field's values. On a
    receipt also a tender line, ``Cash   100.00`` (see :func:`_tender_line`)."""
    values = field.values or []
    found: list[Found] = []
    for p in ctx.passages:
        line = p.text
        if "@" in line and not p.joined:
            continue
        tender = _tender_line(ctx, p.first, field) if ctx.kind == "receipt" and not p.joined \
            else None
        if tender is not None:
            found.append(tender)
            continue
        offset = 0
        for sentence in _SENTENCE_SPLIT.split(line):
            start = line.find(sentence, offset)
            offset = start + len(sentence)
            if "@" in sentence:
                continue
            words = set(tokens(sentence))
            if not (words & _PAY_CUES or _MASKED.search(sentence)):
                continue
            if ":" in sentence:  # a labelled pair, read (or refused) by the label rules
                continue
            if "or" in tokens(_ON_OR_AFTER.sub(" ", sentence)):
                continue  # ``Pay online, by phone, or mail a check``: a choice, not a record
            value = enum_from_phrase(sentence, values, _value_aliases(field))
            if value is not None:
                lead = len(sentence) - len(sentence.lstrip())
                found.append(_in(ctx, p, start + lead, start + len(sentence.rstrip()),
                                 "payment_sentence", value))
    return _unique(found, lambda f: f.value)


_ON_OR_AFTER = re.compile(r"\bon\s+or\s+(?:just\s+)?(?:after|before|about)\b", re.IGNORECASE)
_TENDER = re.compile(r"^\s*(?P<words>[^\W\d_][^\d:]{0,24}?)\s+[$€£¥]?\s*\d[\d,.]*\s*$")


def _tender_line(ctx: Context, i: int, field: FieldSpec) -> Found | None:
    """A receipt's tender line: a payment word and the amount tendered (``Cash 100.00``,
    ``VISA 80.65``), nothing else on the line."""
    m = _TENDER.match(ctx.lines[i])
    if m is None:
        return None
    words = m.group("words").strip()
    value = enum_from_phrase(words, field.values or [], _value_aliases(field))
    if value is None or len(tokens(words)) > 3:
        return None
    return Found(words, i + 1, m.start("words"), "payment_sentence", value)


_LAW_CUES = frozenset({"governed", "governing", "laws", "law", "jurisdiction", "courts"})


def law_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``This agreement is governed by the laws of the State of New York``: a sentence about
    the governing law or courts that names exactly one of the field's values."""
    values = field.values or []
    found: list[Found] = []
    for i, line in enumerate(ctx.lines):
        for sentence in _SENTENCE_SPLIT.split(line.strip()):
            if not set(tokens(sentence)) & _LAW_CUES:
                continue
            value = enum_from_phrase(sentence, values, _value_aliases(field))
            if value is not None:
                found.append(Found(sentence.strip(), i + 1, line.find(sentence.strip()),
                                   "law_sentence", value))
    return _unique(found, lambda f: f.value)


_NUMBER_WORDS = r"(?:[a-z]+(?:[- ][a-z]+)?\s+)?\(?(?P<n>\d{1,4})\)?"
_NOTICE_SENTENCE = re.compile(
    rf"\b{_NUMBER_WORDS}\s*(?P<unit>days?|weeks?|months?)['\u2019]?s?\s+(?:prior\s+)?"
    r"(?:advance\s+)?(?:written\s+)?notice", re.IGNORECASE)
_TERM_SENTENCE = re.compile(
    rf"\b(?:initial\s+|minimum\s+)?term\s+(?:of|is|shall\s+be)\s+{_NUMBER_WORDS}\s*"
    r"(?P<unit>months?|years?)\b", re.IGNORECASE)


def _count_sentence(pattern: re.Pattern[str], rule: str) -> Rule:
    def read(ctx: Context, field: FieldSpec) -> Found | None:
        found: list[Found] = []
        for i, line in enumerate(ctx.lines):
            for m in pattern.finditer(line):
                raw = f"{m.group('n')} {m.group('unit')}"
                parsed = parse_scored(field, raw, Hints())
                if parsed is not None:
                    found.append(Found(m.group("n"), i + 1, m.start("n"), rule, parsed[0]))
        return _unique(found, lambda f: f.value)
    return read


_RENEWS = re.compile(r"\b(?:(?P<neg>not|never|no)\s+(?:\w+\s+){0,2})?"
                     r"(?:renews?\s+automatically|automatically\s+renews?|auto-?renews?)\b"
                     r"(?P<after>\s+(?:disabled|off|cancell?ed|declined|removed|waived|not))?",
                     re.IGNORECASE)


def renewal_sentence(ctx: Context, field: FieldSpec) -> Found | None:
    """``The term renews automatically for successive one-year periods`` is yes; ``will not
    automatically renew`` is no."""
    found: list[Found] = []
    for i, line in enumerate(ctx.lines):
        for m in _RENEWS.finditer(line):
            if m.group("after"):  # ``Auto-renew disabled``: a state, not a sentence; unsure
                continue
            found.append(Found(m.group(), i + 1, m.start(), "renewal_sentence",
                               m.group("neg") is None))
    return _unique(found, lambda f: f.value)


def _value_aliases(field: FieldSpec) -> dict[str, list[str]]:
    return dict(field.value_aliases or {})


# ---------------------------------------------------------------------------- dispatch
def _first_of(*rules: Rule) -> Rule:
    """The first rule that answers (the stronger evidence first)."""
    def read(ctx: Context, field: FieldSpec) -> Found | None:
        for rule in rules:
            found = rule(ctx, field)
            if found is not None:
                return found
        return None
    return read


RULES: dict[str, tuple[frozenset[FieldType], Rule]] = {
    "vendor": (frozenset({FieldType.STRING}), _first_of(letterhead, signature)),
    "invoice_number": (frozenset({FieldType.STRING}), _first_of(invoice_mention, title_number)),
    "paid": (frozenset({FieldType.BOOLEAN}), paid),
    "item_count": (frozenset({FieldType.INTEGER, FieldType.NUMBER}), item_rows),
    "invoice_date": (frozenset({FieldType.DATE}), _first_of(bare_date, mail_issue_date)),
    "due_date": (frozenset({FieldType.DATE}), due_sentence),
    "customer_email": (frozenset({FieldType.EMAIL}), customer_email),
    "contact_email": (frozenset({FieldType.EMAIL}), contact_email),
    "loss_date": (frozenset({FieldType.DATE}), _first_of(
        _date_sentence(_LOSS_SENTENCE, "loss_sentence"),
        _date_sentence(_LOSS_LEAD, "loss_sentence"))),
    "deductible": (frozenset({FieldType.NUMBER, FieldType.CURRENCY}), excess_sentence),
    "reported_date": (frozenset({FieldType.DATE}), _first_of(
        _date_sentence(_REPORTED_SENTENCE, "reported_sentence"), mail_date)),
    "insured_name": (frozenset({FieldType.STRING}), sender_name),
    "claim_amount": (frozenset({FieldType.CURRENCY, FieldType.NUMBER}), amount_sentence),
    "policy_number": (frozenset({FieldType.STRING}), _id_mention("policy")),
    "claim_number": (frozenset({FieldType.STRING}), _id_mention("claim")),
    "persons_injured": (frozenset({FieldType.INTEGER, FieldType.NUMBER}), injury_sentence),
    "police_report": (frozenset({FieldType.BOOLEAN}), police_sentence),
    "claim_type": (frozenset({FieldType.ENUM}), title_claim_type),
    "payment_method": (frozenset({FieldType.ENUM}), payment_sentence),
    "governing_law": (frozenset({FieldType.ENUM}), law_sentence),
    "notice_period": (frozenset({FieldType.INTEGER, FieldType.NUMBER}),
                      _count_sentence(_NOTICE_SENTENCE, "notice_sentence")),
    "term_months": (frozenset({FieldType.INTEGER, FieldType.NUMBER}),
                    _count_sentence(_TERM_SENTENCE, "term_sentence")),
    "auto_renew": (frozenset({FieldType.BOOLEAN}), renewal_sentence),
}
"""Semantic role -> (field types it answers, rule)."""


def find(ctx: Context, field: FieldSpec, role: str | None) -> Found | None:
    """The unlabelled value of ``field`` (bound to ``role``), or ``None``."""
    if role is None or role not in RULES:
        return None
    types, rule = RULES[role]
    if field.type not in types:
        return None
    load()  # the lexicon is needed by most rules; loading it once here keeps rules simple
    return rule(ctx, field)
