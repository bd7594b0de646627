"""One PDF statement per customer and month, beside the customer's CSV bill
(``customer_bills/<customer id>.pdf``).

A statement is what the customer receives: the partner as issuer, the customer, the period, the
month's lines grouped by service and resource type with subtotals (usage and refunds apart), and
the total due at the agreed discount. It is built from one aggregate query over
marts.customer_bill_line for the whole month, so a customer with millions of lines gets a statement
of a few rows and the time per customer stays that of laying out one short document.

Amounts are rounded half-up to the cent for display; each total is its exact sum rounded, so the
total due is the CSV bill's TOTAL charge rounded, whatever the rounding of the rows above it.
The fonts (Chinese, Latin and Thai) are prepared once per month, see `reports.statement_fonts`; the
layout is here, the PDF itself is written by `reports.statement_pdf`. The same warehouse content
gives byte-identical files: the document dates are the period's, not the clock's.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import groupby
from pathlib import Path

import duckdb

from reports.exports import BILL_LINE_TABLE
from reports.files import atomic_output_path
from reports.formatting import CURRENCY, format_count, format_money, money_sum
from reports.statement_fonts import MonthFonts, ReadFonts
from reports.statement_pdf import A4_MM, PT_PER_MM, Document
from schemas.bill_cycle import BillCycle
from schemas.scratch import scratch_folder

LOGGER = logging.getLogger(__name__)

# the month's fonts, cut to the characters its statements use, while they are drawn
FONT_SCRATCH_PREFIX = "billrecon-font-"
TOTAL_DUE_LABEL = "Total due"
USAGE_TITLE = "Usage"
REFUNDS_TITLE = "Refunds"

_PAGE_MARGIN = 15  # mm
# Service, resource type, lines, list price, charge: widths in mm on an A4 page (180 mm of text width)
_COLUMNS = (("Service", 52, "L"), ("Resource type", 52, "L"), ("Lines", 18, "R"),
            ("List price ({currency})", 29, "R"), ("Charge ({currency})", 29, "R"))


@dataclass(frozen=True)
class GroupRow:
    service: str
    resource_type: str
    line_count: int
    list_price: Decimal
    charge: Decimal


@dataclass(frozen=True)
class Issuer:
    partner_id: str | None
    partner_name: str | None


@dataclass
class CustomerStatement:
    """The content of one statement."""

    customer_id: str | None
    customer_name: str
    issuer: Issuer
    usage: list[GroupRow] = field(default_factory=list)
    refunds: list[GroupRow] = field(default_factory=list)

    @property
    def usage_charge(self) -> Decimal:
        return money_sum(row.charge for row in self.usage)

    @property
    def refund_charge(self) -> Decimal:
        return money_sum(row.charge for row in self.refunds)

    @property
    def total_due(self) -> Decimal:
        """The exact Σ charge of the customer's lines: the CSV bill's TOTAL charge."""
        return money_sum((self.usage_charge, self.refund_charge))


def load_statements(con: duckdb.DuckDBPyConnection, bill_cycle: str,
                    lines_table: str = BILL_LINE_TABLE) -> list[CustomerStatement]:
    """The month's statements, one per customer with billed lines, from one grouped pass over the
    lines (``lines_table``: the mart, or the pack's copy of its lines, ``reports.pack_lines``). The
    issuer is the partner the customer buys from (a reseller's customer: the reseller)."""
    rows = con.execute(
        f"""with groups as (
               select customer_id, max(customer_name) as customer_name, bill_type,
                      coalesce(service_type_name, max(service_type_code), '') as service,
                      coalesce(resource_type_name, '') as resource_type,
                      count(*) as line_count, coalesce(sum(official_amount), 0) as list_price,
                      coalesce(sum(customer_charge_amount), 0) as charge
               from {lines_table} where bill_cycle = $cycle
               group by customer_id, bill_type, service_type_name, resource_type_name
           ),
           issuers as (
               select customer_id, max(partner_id) as partner_id, max(partner_name) as partner_name
               from marts.customer_monthly_expenditure where bill_cycle = $cycle group by customer_id
           )
           select groups.customer_id, max(groups.customer_name) over (partition by groups.customer_id),
                  issuers.partner_id, issuers.partner_name,
                  bill_type, service, resource_type, line_count, list_price, charge
           from groups left join issuers using (customer_id)
           order by groups.customer_id nulls first, bill_type, service, resource_type""",
        {"cycle": bill_cycle}).fetchall()
    statements = []
    for customer_id, group in groupby(rows, key=lambda row: row[0]):
        group = list(group)
        statement = CustomerStatement(customer_id, group[0][1] or "", Issuer(group[0][2], group[0][3]))
        for *_, bill_type, service, resource_type, line_count, list_price, charge in group:
            target = statement.refunds if bill_type == "Refund" else statement.usage
            target.append(GroupRow(service, resource_type, line_count, list_price, charge))
        statements.append(statement)
    return statements


def write_customer_statements(con: duckdb.DuckDBPyConnection, bill_cycle: str,
                              bill_paths: Mapping[str | None, Path], currency: str = CURRENCY,
                              lines_table: str = BILL_LINE_TABLE) -> dict[str | None, Path]:
    """A PDF beside each customer's CSV bill (same name, ``.pdf``), its amounts in `currency`; returns
    customer id -> PDF path. Statements of customers no longer billed are removed, as their CSV bills are."""
    if not bill_paths:
        return {}
    folder = next(iter(bill_paths.values())).parent
    with customer_statements_rendered(con, bill_cycle, folder, bill_paths.get, currency, lines_table) as written:
        pass  # no other work to do while they render: `written` is filled when this block ends
    return written


@contextlib.contextmanager
def customer_statements_rendered(con: duckdb.DuckDBPyConnection, bill_cycle: str, folder: Path,
                                 bill_path: Callable[[str | None], Path | None], currency: str = CURRENCY,
                                 lines_table: str = BILL_LINE_TABLE) -> Iterator[dict[str | None, Path]]:
    """Render the month's statements into `folder` while the caller's block runs (the pack writes
    the CSV bills meanwhile), in worker processes from PROCESSES_FROM_STATEMENTS statements on.
    `bill_path` names a customer's CSV bill (None: the customer gets no statement). Yields the
    mapping customer id -> PDF path, filled when the block has ended and every statement is
    written; then the PDFs of customers no longer billed are removed. An error in the block stops
    the rendering and is raised, without removing any PDF."""
    folder.mkdir(parents=True, exist_ok=True)
    jobs = [_Job(bill_cycle, statement, path.name, currency, path.with_suffix(".pdf"))
            for statement in load_statements(con, bill_cycle, lines_table)
            if (path := bill_path(statement.customer_id)) is not None]
    written: dict[str | None, Path] = {}
    with scratch_folder(FONT_SCRATCH_PREFIX) as scratch:
        fonts = MonthFonts.prepare(scratch, "".join(job.text() for job in jobs))
        _warn_unprintable(bill_cycle, fonts, jobs)
        with _rendering(jobs, fonts):
            yield written
    written.update({job.statement.customer_id: job.path for job in jobs})
    current = set(written.values())
    for stale in folder.glob("*.pdf"):
        if stale not in current:
            stale.unlink()


@dataclass(frozen=True)
class _Job:
    """One statement to render, as a worker process receives it."""

    bill_cycle: str
    statement: CustomerStatement
    lines_file: str
    currency: str
    path: Path

    def text(self) -> str:
        return printed_text(self.statement, self.lines_file)


# A month's statements take some 2.3 ms each (2,000: 4.7 CPU-s), beside the bills the pack writes, so
# from this many on they are shared out to worker processes, one per core. Fewer are rendered here:
# starting a worker (it imports the reports) costs about a second.
PROCESSES_FROM_STATEMENTS = 200
MAX_PROCESSES = 4


@contextlib.contextmanager
def _rendering(jobs: list[_Job], fonts: MonthFonts) -> Iterator[None]:
    """Render every job, in worker processes while the block runs, or here before it; each document
    is rendered alone, so its bytes do not depend on where."""
    processes = min(os.cpu_count() or 1, MAX_PROCESSES)
    if len(jobs) < PROCESSES_FROM_STATEMENTS or processes < 2:
        _render(jobs, fonts)
        yield
        return
    pool = None
    try:
        # spawned, not forked: the parent holds DuckDB's and polars' threads, whose locks a fork would copy
        pool = ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("spawn"))
        futures = [pool.submit(_render, jobs[start::processes], fonts) for start in range(processes)]
    except OSError as exc:  # no worker can start: a sandbox without process semaphores
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        _render_here(jobs, fonts, exc)
        yield
        return
    try:
        yield
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    try:
        for future in futures:
            future.result()  # raises a worker's error here
    except BrokenProcessPool as exc:
        # a worker died: each file is replaced whole (atomic_output_path), so what the workers wrote is simply redone
        _render_here(jobs, fonts, exc)
    finally:
        pool.shutdown()


def _render_here(jobs: list[_Job], fonts: MonthFonts, cause: BaseException) -> None:
    LOGGER.warning("customer statements rendered in this process only: worker processes failed (%s)", cause)
    _render(jobs, fonts)


def _render(jobs: list[_Job], fonts: MonthFonts) -> None:
    read = fonts.read()  # once for all the jobs of this process
    for job in jobs:
        _StatementDocument(job.bill_cycle, job.statement, job.lines_file, job.currency).write(job.path, read)


def _warn_unprintable(bill_cycle: str, fonts: MonthFonts, jobs: list[_Job]) -> None:
    """One line for the month naming the statements that print without characters no font has."""
    gaps = {job.statement.customer_id: fonts.unprintable(job.text()) for job in jobs}
    gaps = {customer: characters for customer, characters in gaps.items() if characters}
    if gaps:
        shown = "; ".join(f"{customer}: {characters}" for customer, characters in list(gaps.items())[:5])
        LOGGER.warning("%s: %d customer statement(s) print without characters no statement font has (%s%s); "
                       "the CSV bills keep them. To print them, add a font that has them to FONT_SOURCES in "
                       "reports/statement_fonts.py", bill_cycle, len(gaps), shown, "; …" if len(gaps) > 5 else "")


# Characters the layout itself prints beyond printable ASCII
_LAYOUT_CHARACTERS = "–—…·"


def printed_text(statement: CustomerStatement, lines_file: str) -> str:
    """Every character a statement can print beyond the layout's own."""
    issuer = statement.issuer
    parts = [_LAYOUT_CHARACTERS, lines_file, issuer.partner_id or "", issuer.partner_name or "",
             statement.customer_id or "", statement.customer_name]
    parts += [f"{row.service}{row.resource_type}" for row in (*statement.usage, *statement.refunds)]
    return "".join(parts)


class _StatementDocument:
    """One statement laid out on A4 pages: a cursor (`x`, `y`, millimetres from the top left) moves
    through cells, as a report writer's do; a page ends where a cell would cross the bottom margin."""

    def __init__(self, bill_cycle: str, statement: CustomerStatement, lines_file: str, currency: str):
        self.bill_cycle = bill_cycle
        self.currency = currency
        self.issuer = statement.issuer
        self.statement = statement
        self.lines_file = lines_file
        cycle = BillCycle.parse(bill_cycle)
        first, self.last_day = cycle.first_day, cycle.last_day
        self.period_text = f"{bill_cycle} ({first:%d %b %Y} – {self.last_day:%d %b %Y}, GMT+8)"
        self.x, self.y = _PAGE_MARGIN, _PAGE_MARGIN
        self.pdf: Document | None = None

    def text(self) -> str:
        return printed_text(self.statement, self.lines_file)

    def write(self, path: Path, fonts: ReadFonts) -> Path:
        self.pdf = Document(fonts.for_text(self.text()))
        self._add_page()
        self.title_block()
        self.summary()
        self.grouped_table(USAGE_TITLE, self.statement.usage, self.statement.usage_charge)
        if self.statement.refunds:
            self.grouped_table(REFUNDS_TITLE, self.statement.refunds, self.statement.refund_charge)
        self.closing_notes()
        self._footers()
        with atomic_output_path(path) as temp_path:
            # the document's date is the period's end: the same data gives the same bytes
            title = f"Statement {self.bill_cycle} – {self.statement.customer_name or self.statement.customer_id}"
            self.pdf.save(temp_path, title, self.issuer.partner_name or self.issuer.partner_id or "", self.last_day)
        return path

    def _add_page(self) -> None:
        self.pdf.add_page()
        self.y = _PAGE_MARGIN

    def _footers(self) -> None:
        """Each page's footer, once the number of pages is known."""
        customer = self.statement.customer_id or ""
        pages = len(self.pdf.pages)
        for number in range(pages):
            self.pdf.turn_to(number)
            self.x, self.y = _PAGE_MARGIN, _PAGE_HEIGHT - _PAGE_MARGIN
            self._cell(0, 4, f"{customer} · {self.bill_cycle} · page {number + 1} of {pages}", 7, align="R",
                       gray=_FOOTER_GRAY, breaks=False)

    def _cell(self, width: float, height: float, text: str, size: float, align: str = "L",
              fill: float | None = None, gray: float = 0.0, next_line: bool = False, breaks: bool = True) -> None:
        """A cell of `width` (0: to the right margin) at the cursor, its text on one line in the
        middle, `fill` its shade; then the cursor moves right, or to the next line."""
        if breaks and self.y + height > _BREAK_AT and self.y > _PAGE_MARGIN:
            self._add_page()  # the cell does not fit above the bottom margin: it opens the next page
        width = width or _PAGE_WIDTH - _PAGE_MARGIN - self.x
        if fill is not None:
            self.pdf.rectangle(self.x, self.y, width, height, fill)
        if text:
            left = self.x + _CELL_MARGIN if align == "L" else self.x + width - _CELL_MARGIN - self.pdf.width(text, size)
            self.pdf.text(left, self.y + height / 2 + 0.3 * size / PT_PER_MM, text, size, gray)
        if next_line:
            self.x, self.y = _PAGE_MARGIN, self.y + height
        else:
            self.x += width

    def _next_line(self, height: float) -> None:
        self.x, self.y = _PAGE_MARGIN, self.y + height

    def title_block(self) -> None:
        self._cell(0, 10, "Statement", 18, next_line=True)
        self._next_line(1)
        issuer = self.issuer.partner_name or self.issuer.partner_id or "—"
        if self.issuer.partner_name and self.issuer.partner_id:
            issuer += f" (partner {self.issuer.partner_id})"
        customer = self.statement.customer_name or "—"
        if self.statement.customer_id:
            customer += f" (customer {self.statement.customer_id})"
        for label, value in (("Issued by", issuer), ("Billed to", customer), ("Period", self.period_text),
                             ("Currency", self.currency)):
            self._cell(28, 5.5, label, 9, gray=_LABEL_GRAY)
            self._line_or_paragraph(value, 5.5, 11 if label == "Billed to" else 10)
        self._next_line(4)

    def _line_or_paragraph(self, text: str, height: float, size: float, gray: float = 0.0) -> None:
        """`text` to the right margin, wrapped at spaces (a word longer than the line at any
        character) when it is longer than the line, each line starting where the first does."""
        start = self.x
        room = _PAGE_WIDTH - _PAGE_MARGIN - start - 2 * _CELL_MARGIN
        for line in _wrap(self.pdf, text, room, size):
            self.x = start
            self._cell(0, height, line, size, gray=gray, next_line=True)

    def summary(self) -> None:
        statement = self.statement
        rows = [(f"{USAGE_TITLE} at the agreed discount", statement.usage_charge)]
        if statement.refunds:
            rows.append((REFUNDS_TITLE, statement.refund_charge))
        for label, amount in rows:
            self._cell(120, 6, label, 10)
            self._cell(60, 6, f"{self.currency} {format_money(amount)}", 10, align="R", next_line=True)
        self.pdf.rule(_PAGE_MARGIN + 100, self.y, _PAGE_WIDTH - _PAGE_MARGIN)
        self._cell(120, 9, TOTAL_DUE_LABEL, 13)
        self._cell(60, 9, f"{self.currency} {format_money(statement.total_due)}", 13, align="R", next_line=True)
        self._next_line(5)

    def grouped_table(self, title: str, rows: list[GroupRow], total: Decimal) -> None:
        self._cell(0, 8, title, 12, next_line=True)
        self._header_row()
        if not rows:
            self._cell(0, 6, "No usage this month.", 9, next_line=True)
        for service, group in groupby(rows, key=lambda row: row.service):
            group = list(group)
            for index, row in enumerate(group):
                self._row((row.service if index == 0 else "", row.resource_type or "—",
                           format_count(row.line_count), format_money(row.list_price), format_money(row.charge)))
            if len(group) > 1:
                self._row(("", f"Subtotal {service}", format_count(sum(row.line_count for row in group)),
                           format_money(money_sum(row.list_price for row in group)),
                           format_money(money_sum(row.charge for row in group))), shaded=True)
        self._row((f"Total {title.lower()}", "", format_count(sum(row.line_count for row in rows)),
                   format_money(money_sum(row.list_price for row in rows)), format_money(total)),
                  shaded=True, rule=True)
        self._next_line(4)

    def closing_notes(self) -> None:
        for line in _wrap(self.pdf, _closing_text(self.currency), _TEXT_WIDTH - 2 * _CELL_MARGIN, _NOTE_SIZE):
            self._cell(0, _NOTE_HEIGHT, line, _NOTE_SIZE, gray=_LABEL_GRAY, next_line=True)
        self._line_or_paragraph(f"Every line of this statement is in {self.lines_file}.", _NOTE_HEIGHT, _NOTE_SIZE,
                                gray=_LABEL_GRAY)

    def _header_row(self) -> None:
        for name, width, align in _COLUMNS:
            self._cell(width, 6, name.format(currency=self.currency), 8, align=align, fill=_HEADER_SHADE)
        self._next_line(6)

    def _row(self, values: Iterable[str], shaded: bool = False, rule: bool = False) -> None:
        if self.y + 5.5 > _BREAK_AT:
            self._add_page()
            self._header_row()
        if rule:
            self.pdf.rule(_PAGE_MARGIN, self.y, _PAGE_WIDTH - _PAGE_MARGIN)
        for value, (_, width, align) in zip(values, _COLUMNS):
            self._cell(width, 5.5, _fit(self.pdf, value, width - 2, 8), 8, align=align,
                       fill=_ROW_SHADE if shaded else None)
        self._next_line(5.5)


_PAGE_WIDTH, _PAGE_HEIGHT = A4_MM
_TEXT_WIDTH = _PAGE_WIDTH - 2 * _PAGE_MARGIN
_BREAK_AT = _PAGE_HEIGHT - _PAGE_MARGIN - 5  # a cell ending below this goes to the next page
_CELL_MARGIN = 1.0  # mm between a cell's edge and its text
_LABEL_GRAY, _FOOTER_GRAY = 90 / 255, 110 / 255
_HEADER_SHADE, _ROW_SHADE = 225 / 255, 245 / 255
_NOTE_SIZE = 8  # pt
_NOTE_HEIGHT = 4.2  # mm


def _closing_text(currency: str) -> str:
    return (f"Amounts in {currency}, rounded half-up to the cent; every subtotal and total is its exact sum "
            "rounded, so rounded rows may differ from it by a cent. Charges are list prices at the discount agreed "
            "with the issuer on each line's trade date (GMT+8); refunds are credited at the agreed discount too.")


def _wrap(pdf: Document, text: str, width: float, size: float) -> list[str]:
    """`text` in lines no wider than `width` mm: broken at its line breaks and at spaces, a word
    longer than a line at characters."""
    lines = []
    for paragraph in text.splitlines() or [""]:
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if pdf.width(candidate, size) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            while len(word) > 1 and pdf.width(word, size) > width:
                cut = _fitting(pdf, word, width, size)
                lines.append(word[:cut])
                word = word[cut:]
            current = word
        lines.append(current)
    return lines


def _fitting(pdf: Document, word: str, width: float, size: float) -> int:
    """How many of `word`'s first characters fit in `width` mm (at least one)."""
    used = 0.0
    for count, character in enumerate(word):
        used += pdf.width(character, size)
        if used > width:
            return max(count, 1)
    return len(word)


def _fit(pdf: Document, text: str, width: float, size: float) -> str:
    """`text` cut with an ellipsis to fit `width` mm at `size` points."""
    if pdf.width(text, size) <= width:
        return text
    room = width - pdf.width("…", size)
    return text[:_fitting(pdf, text, room, size) if pdf.width(text[:1], size) <= room else 0] + "…"
