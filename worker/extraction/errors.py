"""The extraction engine's exception tree.

Every error carries a stable ``code`` (stored on the row and shown to API clients) and a human
``message``. ``retryable`` tells the pipeline whether running the same document again can help:
a timeout may pass, a corrupt PDF never will.
"""

from __future__ import annotations


class ExtractionError(Exception):
    """Base of every error the extraction engine raises on purpose."""

    retryable: bool = False

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message

    def __reduce__(self) -> tuple[type[ExtractionError], tuple[str, str]]:
        # Celery pickles exceptions between processes; keep (code, message) intact.
        return (type(self), (self.code, self.message))


class ParseError(ExtractionError):
    """Raised when a document cannot be turned into text.

    Codes: ``unsupported_type``, ``corrupt_document``, ``empty_document``,
    ``encoding_error``, ``encrypted_document``, ``document_too_large``.
    """


class ExtractorError(ExtractionError):
    """Raised when an extractor cannot produce a row for a parsed document."""


class TransientExtractorError(ExtractorError):
    """Raised when the extractor failed for a reason that may pass (timeout, 5xx, 429).

    Codes: ``extractor_timeout``, ``extractor_unavailable``.
    """

    retryable = True


class PermanentExtractorError(ExtractorError):
    """Raised when retrying cannot help: a rejected request, an unreadable answer, bad config.

    Codes: ``extractor_rejected``, ``extractor_bad_response``, ``extractor_misconfigured``.
    """
