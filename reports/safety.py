"""Defences for text that comes from the data and ends up in files people open.

Customer names, product names and resource names are typed by third parties. Three things can go
wrong when they reach a report:

- HTML: markup in a name. Handled by jinja2 autoescape (see ``reports.html``); nothing here.
- Spreadsheets (XLSX and CSV opened in Excel/LibreOffice): a text that starts with ``=``, ``+``,
  ``-`` or ``@`` (or a tab/carriage return, which some tools strip before evaluating) is taken as
  a formula, e.g. ``=HYPERLINK("http://x","pay")``. ``neutralise_spreadsheet_text`` prefixes such
  text with a single quote so it stays literal text. Only text fields go through it; numbers are
  written as numbers and a negative amount stays a negative number.
- File names built from customer ids: ``safe_file_stem`` keeps ``[A-Za-z0-9._-]`` only.
"""

from __future__ import annotations

import hashlib
import re

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

_UNSAFE_FILE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")


def neutralise_spreadsheet_text(text: str) -> str:
    """Return ``text`` so that a spreadsheet shows it literally instead of evaluating it."""
    if text.startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def safe_file_stem(identifier: str) -> str:
    """File-name stem for an identifier: every character outside ``[A-Za-z0-9._-]`` becomes ``_``.

    A stem made only of dots (``.``, ``..``) would name the directory itself or its parent once
    an extension is dropped by some tool, so dots-only and empty stems become underscores.
    """
    stem = _UNSAFE_FILE_NAME_CHARS.sub("_", identifier)
    if not stem.strip("."):
        stem = "_" * max(len(stem), 1)
    return stem


def unique_file_stems(identifiers: list[str]) -> dict[str, str]:
    """Map each identifier to a sanitised stem that no other identifier in the list shares.

    Two ids can sanitise to the same stem (``a/b`` and ``a_b``), and on case-insensitive file
    systems (Windows, macOS) ``ABC`` and ``abc`` name the same file. Writing both would silently
    overwrite one customer's bill with another's, so on a clash the later id (in sorted order,
    hence deterministic) gets a short hash of the original id appended.
    """
    stems: dict[str, str] = {}
    taken: set[str] = set()
    for identifier in sorted(identifiers):
        stem = safe_file_stem(identifier)
        if stem.casefold() in taken:
            digest = hashlib.sha256(identifier.encode("utf-8")).hexdigest()[:10]
            stem = f"{stem}-{digest}"
        taken.add(stem.casefold())
        stems[identifier] = stem
    return stems
