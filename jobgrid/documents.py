"""Turn files on disk into the contract's document objects (``text`` or ``content_base64``).

A folder contributes only the files the service can read: those whose extension the worker's
parser knows (:data:`DOCUMENT_SUFFIXES`, the same list as ``EXTENSION_KINDS`` in
``worker.extraction.parsing``; a unit test keeps the two equal). Everything else in a folder
(the ground-truth ``.json`` beside samples, copies of the schema, images, archives) is skipped
and reported, never sent. ``--include``/``--exclude`` globs refine the choice; files named one
by one are sent whatever their type (the user asked for them), unless an exclude matches.
"""

from __future__ import annotations

import base64
import fnmatch
import mimetypes
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Extensions the worker's parser reads (text, Markdown, HTML, PDF, DOCX).
DOCUMENT_SUFFIXES = frozenset({
    ".txt", ".text", ".csv", ".tsv", ".log", ".md", ".markdown", ".mdown",
    ".html", ".htm", ".xhtml", ".pdf", ".docx",
})

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
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


def guess_mime(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _MIME_BY_SUFFIX:
        return _MIME_BY_SUFFIX[suffix]
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


@dataclass
class Selection:
    """The files to send, and the ones left out with the reason (for the user to see)."""

    files: list[Path] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)

    def skipped_summary(self, limit: int = 8) -> str:
        """``"skipped 2 files: ground_truth.json (.json is not a document type ...), ..."``."""
        if not self.skipped:
            return ""
        shown = ", ".join(f"{p.name} ({why})" for p, why in self.skipped[:limit])
        more = f", and {len(self.skipped) - limit} more" if len(self.skipped) > limit else ""
        noun = "file" if len(self.skipped) == 1 else "files"
        return f"skipped {len(self.skipped)} {noun}: {shown}{more}"


def _matches(path: Path, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(path.name, g) or fnmatch.fnmatch(str(path), g) for g in globs)


def select_files(
    paths: Iterable[str | Path],
    *,
    exclude: Iterable[Path] = (),
    include_globs: Sequence[str] = (),
    exclude_globs: Sequence[str] = (),
) -> Selection:
    """Files named directly, plus the document files directly inside named directories.

    In a directory a file is taken when it matches an ``include_globs`` pattern, or, without
    any, when its extension is a :data:`DOCUMENT_SUFFIXES` type; hidden files never are.
    ``exclude`` (the schema file) and ``exclude_globs`` drop files anywhere, named ones too.
    """
    skip = {p.resolve() for p in exclude}
    sel = Selection()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for p in sorted(path.iterdir()):
                if not p.is_file() or p.name.startswith("."):
                    continue
                if p.resolve() in skip:
                    sel.skipped.append((p, "the schema file"))
                    continue
                if include_globs:
                    if not _matches(p, include_globs):
                        sel.skipped.append((p, "matches no --include"))
                        continue
                elif p.suffix.lower() not in DOCUMENT_SUFFIXES:
                    kind = p.suffix.lower() or "no extension"
                    sel.skipped.append((p, f"{kind}: not a document type the service reads"))
                    continue
                sel.files.append(p)
        elif path.is_file():
            sel.files.append(path)
        else:
            raise FileNotFoundError(f"no such file or directory: {path}")
    kept: list[Path] = []
    for p in sel.files:
        if p.resolve() in skip:
            sel.skipped.append((p, "the schema file"))
        elif exclude_globs and _matches(p, exclude_globs):
            sel.skipped.append((p, "matches --exclude"))
        else:
            kept.append(p)
    sel.files = kept
    return sel


def expand_paths(paths: Iterable[str | Path], *, exclude: Iterable[Path] = ()) -> list[Path]:
    """The files :func:`select_files` takes (named files, document files of folders)."""
    return select_files(paths, exclude=exclude).files


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
