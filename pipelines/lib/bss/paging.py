"""Paging a list to its end, and noticing when the list changes under the pull.

BSS lists page with `offset` (a row offset; one API, the invoices, takes a 1-based page number
instead) and `limit`, and every page repeats the list's total (`count` or `total_count`). If the
total moves between pages, or a page comes back empty before the total is reached, records were
added or removed meanwhile: the pages read so far may skip or repeat records. The pull then starts
over from the first page, a bounded number of times; a list that never holds still fails the pull
rather than give a silently wrong count.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pipelines.lib.bss.errors import InconsistentPages

PageStyle = Literal["offset", "page_number"]


@dataclass(frozen=True)
class Paged:
    records: list[dict[str, Any]]
    total: int
    pages: int       # pages read by the pull that completed
    restarts: int    # pulls abandoned because the list changed


def fetch_all_pages(fetch_page: Callable[[int, int], dict[str, Any]], *, route: str, list_field: str,
                    count_field: str, page_size: int, style: PageStyle = "offset", max_restarts: int = 3,
                    on_restart: Callable[[str], None] | None = None) -> Paged:
    """Every record of a list. `fetch_page(offset, limit)` returns one answer (a dict)."""
    problem = ""
    for pull in range(max_restarts + 1):
        if pull and on_restart is not None:
            on_restart(problem)
        records: list[dict[str, Any]] = []
        total: int | None = None
        pages = 0
        while True:
            offset = len(records) if style == "offset" else pages + 1
            answer = fetch_page(offset, page_size)
            pages += 1
            items = answer.get(list_field) or []
            count = _total(answer.get(count_field))
            if count is None:
                problem = f"page {pages} has no usable {count_field} ({answer.get(count_field)!r})"
                break
            if total is None:
                total = count
            elif count != total:
                problem = f"the total changed from {total} to {count} between pages"
                break
            records.extend(items)
            if len(records) >= total:
                if len(records) > total:
                    problem = f"{len(records)} records came back for a total of {total}"
                    break
                return Paged(records, total, pages, pull)
            if not items:
                problem = f"page {pages} came back empty with {len(records)} of {total} records read"
                break
            if style == "page_number" and len(items) < page_size:
                # with page numbers a short page means the pages after it are not where we think
                problem = f"page {pages} came back short ({len(items)} of {page_size}) before the end"
                break
    raise InconsistentPages(route, f"{route}: the list kept changing while it was paged ({problem}); "
                                   f"tried {max_restarts + 1} times and kept nothing")


def _total(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    try:
        number = int(str(value))
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None
