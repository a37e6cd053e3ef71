"""Turn files on disk into the contract's document objects (``text`` or ``content_base64``)."""

from __future__ import annotations

import base64
import mimetypes
from collections.abc import Iterable
from pathlib import Path
from typing import Any

#: Sent as ``text``: readable as-is, and a third smaller than base64.
TEXT_SUFFIXES = frozenset({".txt", ".md", ".html", ".htm", ".csv"})

# mimetypes' answer depends on the host's /etc/mime.types; pin the ones we care about.
_MIME_BY_SUFFIX = {
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".csv": "text/csv",
    ".pdf": "application/pdf",
    ".json": "application/json",
}


def guess_mime(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _MIME_BY_SUFFIX:
        return _MIME_BY_SUFFIX[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def expand_paths(paths: Iterable[str | Path], *, exclude: Iterable[Path] = ()) -> list[Path]:
    """Files named directly, plus the visible files directly inside named directories (sorted).

    ``exclude`` drops files such as the schema file when a whole sample folder is submitted.
    """
    skip = {p.resolve() for p in exclude}
    out: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            out.extend(sorted(
                p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
            ))
        elif path.is_file():
            out.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    return [p for p in out if p.resolve() not in skip]


def document_from_path(path: Path) -> dict[str, Any]:
    """One document: ``text`` for text-like suffixes that decode as UTF-8, else base64."""
    raw = path.read_bytes()
    doc: dict[str, Any] = {"filename": path.name, "mime_type": guess_mime(path)}
    if path.suffix.lower() in TEXT_SUFFIXES:
        try:
            doc["text"] = raw.decode("utf-8")
            return doc
        except UnicodeDecodeError:
            pass  # not UTF-8: send the bytes and let the server's parser decide
    doc["content_base64"] = base64.b64encode(raw).decode("ascii")
    return doc


def documents_from_paths(
    paths: Iterable[str | Path], *, exclude: Iterable[Path] = ()
) -> list[dict[str, Any]]:
    """Documents for ``POST /v1/jobs`` from files and directories, in a stable order."""
    return [document_from_path(p) for p in expand_paths(paths, exclude=exclude)]
