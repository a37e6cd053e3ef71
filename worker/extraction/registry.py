"""Extractor lookup by name: ``JOBGRID_EXTRACTOR`` picks one, plug-ins register more."""

from __future__ import annotations

from collections.abc import Callable

from shared.settings import get_settings
from worker.extraction.base import Extractor

ExtractorFactory = Callable[[], Extractor]


def _builtin() -> Extractor:
    from worker.extraction.builtin import BuiltinExtractor

    return BuiltinExtractor()


def _openai() -> Extractor:
    from worker.extraction.openai_compat import OpenAICompatExtractor

    return OpenAICompatExtractor.from_settings(get_settings())


_FACTORIES: dict[str, ExtractorFactory] = {"builtin": _builtin, "openai": _openai}


def register_extractor(name: str, factory: ExtractorFactory) -> None:
    """Make ``JOBGRID_EXTRACTOR=<name>`` build extractors with ``factory``."""
    _FACTORIES[name.strip().lower()] = factory


def available_extractors() -> list[str]:
    return sorted(_FACTORIES)


def get_extractor(name: str | None = None) -> Extractor:
    """Build the extractor named ``name`` (default: the ``JOBGRID_EXTRACTOR`` setting).

    Raises ``ValueError`` naming ``JOBGRID_EXTRACTOR`` for an unknown name, so a typo in the
    environment fails loudly at start-up instead of silently falling back.
    """
    chosen = (name if name is not None else get_settings().extractor).strip().lower()
    factory = _FACTORIES.get(chosen)
    if factory is None:
        raise ValueError(
            f"unknown extractor {chosen!r}: JOBGRID_EXTRACTOR must be one of "
            f"{', '.join(available_extractors())}"
        )
    return factory()
