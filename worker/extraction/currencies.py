"""Currency indicators: symbols and ISO 4217 codes.

``$`` alone means USD and ``¥`` means JPY (the most common readings); prefixed dollar forms
(``C$``, ``A$``, ``HK$``...) name their currency. Ambiguous marks such as ``kr`` or ``Rs`` are
not indicators: a value with no clear currency is refused rather than guessed.
"""

from __future__ import annotations

SYMBOLS: dict[str, str] = {
    "US$": "USD", "USD$": "USD", "CA$": "CAD", "C$": "CAD", "AU$": "AUD", "A$": "AUD",
    "NZ$": "NZD", "HK$": "HKD", "S$": "SGD", "R$": "BRL", "MX$": "MXN", "NT$": "TWD",
    "$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR", "₩": "KRW", "₽": "RUB",
    "₺": "TRY", "₪": "ILS", "₫": "VND", "฿": "THB", "₱": "PHP", "₦": "NGN", "₴": "UAH",
    "zł": "PLN", "Kč": "CZK", "CHF": "CHF", "RMB": "CNY",
}
"""Longest first when matched: ``US$`` must win over ``$``."""

CODES: frozenset[str] = frozenset(
    """USD EUR GBP JPY CHF CAD AUD NZD CNY HKD SGD SEK NOK DKK ISK PLN CZK HUF RON BGN HRK
    RSD UAH RUB TRY ILS AED SAR QAR KWD BHD OMR JOD EGP MAD ZAR NGN KES GHS INR PKR LKR BDT
    NPR IDR MYR THB PHP VND KRW TWD BRL MXN ARS CLP COP PEN UYU""".split()
)

_SYMBOLS_LONGEST_FIRST = sorted(SYMBOLS, key=len, reverse=True)


def _code_at(text: str, start: int) -> str | None:
    word = text[start:start + 3]
    if len(word) == 3 and word.isalpha() and word.upper() in CODES:
        return word.upper()
    return None


def take_prefix(text: str) -> tuple[str | None, str]:
    """Split a leading currency indicator off ``text``: (code or None, rest)."""
    for symbol in _SYMBOLS_LONGEST_FIRST:
        if text.startswith(symbol):
            return SYMBOLS[symbol], text[len(symbol):]
    code = _code_at(text, 0)
    if code and not text[3:4].isalpha():
        return code, text[3:]
    return None, text


def take_suffix(text: str) -> tuple[str | None, str]:
    """Split a trailing currency indicator off ``text``: (code or None, rest)."""
    for symbol in _SYMBOLS_LONGEST_FIRST:
        if text.endswith(symbol) and not (symbol.isalpha() and text[-len(symbol) - 1:-len(symbol)]
                                          .isalpha()):
            return SYMBOLS[symbol], text[: -len(symbol)]
    code = _code_at(text, len(text) - 3) if len(text) >= 3 else None
    if code and not text[-4:-3].isalpha():
        return code, text[:-3]
    return None, text


def code_in_label(label: str) -> str | None:
    """A currency named in a label's parentheses, e.g. ``Total (EUR)`` or ``Amount ($)``, or
    as its last word in capitals (``TOTAL CAD``)."""
    start, end = label.rfind("("), label.rfind(")")
    if start < 0 or end < start:
        words = label.rstrip(" :").split()  # ``TOTAL CAD``, ``Total EUR``: a bare code last
        last = words[-1] if len(words) >= 2 else ""
        return last if len(last) == 3 and last.isupper() and last in CODES else None
    inner = label[start + 1:end].strip()
    if inner in SYMBOLS:
        return SYMBOLS[inner]
    return inner.upper() if inner.upper() in CODES and inner.isalpha() else None
