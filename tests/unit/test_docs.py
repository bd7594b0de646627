"""The repository stands on its own: no file cites a document that is not in it, and every link to
a page of docs/ (or any relative link in a Markdown page) leads to a file and a heading that exist.

The patterns are assembled at run time so that this file does not match them itself.
"""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Documents that live outside the repository, and machine paths: citing them sends a reader nowhere.
OUTSIDE_DOCUMENT = re.compile("|".join([
    "DESIGN" + r"\.md",
    "FORMATS" + r"\.md",
    "domain" + " \u00a7",
    "domain" + "/",
    "sdk" + "-fields",
    r"\.\." + "/shared",
    "/" + "work/",
]))
# `docs/<page>.md`, optionally with `#anchor`, anywhere in a text file.
DOCS_REFERENCE = re.compile(r"(?<![\w/.-])(docs/[\w.-]+\.md)(#[\w-]+)?")
# A Markdown link's target: `](target)`.
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")


def tracked_files() -> list[Path]:
    """The files git tracks (all files outside build and cache folders when git is not at hand)."""
    try:
        listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        return [ROOT / name for name in listed.decode("utf-8").split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        skipped = {".git", ".venv", "warehouse", "__pycache__", ".pytest_cache", ".dagster_home"}
        return [p for p in ROOT.rglob("*") if p.is_file() and not skipped.intersection(p.relative_to(ROOT).parts)]


def text_of(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, FileNotFoundError, IsADirectoryError):
        return None  # binary files (and a tracked file deleted in the working tree) cite nothing


def outside_citations(path: Path, text: str) -> list[str]:
    return [f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1) if OUTSIDE_DOCUMENT.search(line)]


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading keeps its text
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    found: set[str] = set()
    seen: Counter[str] = Counter()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
            continue
        match = None if in_code else HEADING.match(line)
        if match:
            base = slug(match.group(1))
            found.add(base if not seen[base] else f"{base}-{seen[base]}")
            seen[base] += 1
    return found


def link_problem(target: Path, anchor: str | None) -> str | None:
    if not target.is_file():
        return "no such file"
    if anchor and target.suffix == ".md" and anchor not in anchors(target):
        return f"no heading with anchor #{anchor}"
    return None


def broken_links(path: Path, text: str) -> list[str]:
    """`docs/….md` references (relative to the repository root) and relative Markdown links
    (relative to the page) whose file or heading does not exist."""
    broken = []
    for number, line in enumerate(text.splitlines(), start=1):
        for match in DOCS_REFERENCE.finditer(line):
            anchor = match.group(2)[1:] if match.group(2) else None
            problem = link_problem(ROOT / match.group(1), anchor)
            if problem:
                broken.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)}: {problem}")
        if path.suffix != ".md":
            continue
        for match in MARKDOWN_LINK.finditer(line):
            target = match.group(1)
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition("#")
            resolved = (path.parent / file_part) if file_part else path
            problem = link_problem(resolved, anchor or None)
            if problem:
                broken.append(f"{path.relative_to(ROOT)}:{number}: ({target}): {problem}")
    return broken


def problems_in_tracked_files(check) -> list[str]:
    found = []
    for path in tracked_files():
        text = text_of(path)
        if text is not None:
            found.extend(check(path, text))
    return found


def test_no_file_cites_a_document_outside_the_repository():
    assert problems_in_tracked_files(outside_citations) == []


def test_every_link_to_docs_leads_to_an_existing_page_and_heading():
    assert problems_in_tracked_files(broken_links) == []


def test_the_documentation_pages_exist_and_the_readme_links_them():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    pages = ["docs/formats.md", "docs/domain.md", "docs/architecture.md", "docs/reconciliation.md"]
    assert [page for page in pages if f"]({page})" not in readme] == []


def test_the_checks_catch_what_they_are_for():
    """Planted citations and broken links are reported, line by line; clean text is not."""
    page = ROOT / "docs" / "formats.md"  # links in the sample resolve as they would on this page
    outside = "\n".join([
        "see " + "FORMATS" + ".md §1",
        "as " + "domain" + " \u00a72.5 says",
        "the models (" + "sdk" + "-fields-intl.md)",
        "clean line",
    ])
    assert [line.split(":")[1] for line in outside_citations(page, outside)] == ["1", "2", "3"]

    links = "\n".join([
        "[ok](domain.md#discount-types), `docs/architecture.md#the-sandbox-and-its-seal`, [self](#bill-line-columns)",
        "[gone](nowhere.md) and `docs/" + "missing.md`",
        "[bad anchor](architecture.md#no-such-heading) and `docs/" + "domain.md#no-such-heading`",
        "[web](https://example.com/x.md)",
    ])
    assert broken_links(page, links) == [
        "docs/formats.md:2: docs/" + "missing.md: no such file",
        "docs/formats.md:2: (nowhere.md): no such file",
        "docs/formats.md:3: docs/" + "domain.md#no-such-heading: no heading with anchor #no-such-heading",
        "docs/formats.md:3: (architecture.md#no-such-heading): no heading with anchor #no-such-heading",
    ]


def test_heading_anchors_follow_githubs_rules(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n## The partner's monthly bill\n### `marts.x` (a × b)\n```\n# not a heading\n```\n"
                    "## Title\n", encoding="utf-8")
    assert anchors(page) == {"title", "the-partners-monthly-bill", "martsx-a--b", "title-1"}
