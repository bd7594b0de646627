"""One PDF statement per customer and month, beside the customer's CSV bill
(``customer_bills/<customer id>.pdf``).

A statement is what the customer receives: the partner as issuer, the customer, the period, the
month's lines grouped by service and resource type with subtotals (usage and refunds apart), and
the total due at the agreed discount. It is built from one aggregate query over
marts.customer_bill_line for the whole month, so a customer with millions of lines gets a statement
of a few rows and the time per customer stays that of laying out one short document.

Amounts are rounded half-up to the cent for display; each total is its exact sum rounded, so the
total due is the CSV bill's TOTAL charge rounded, whatever the rounding of the rows above it.
Text is set in WenQuanYi Micro Hei (shipped by the ``paperang-p2-fonts-cjk`` package, embedded as a
subset): it covers Chinese and the Latin letters of names such as "Bilişim A.Ş.". The font holds
35,000 glyphs and takes seconds to read and subset, so it is subset once per month to the characters
of all its statements, and each statement embeds a subset of that small font. The same warehouse content gives
byte-identical files: the document dates are the period's, not the clock's.
"""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from itertools import groupby
from pathlib import Path

import duckdb
from fontTools import subset
from fpdf import FPDF

from reports.exports import BILL_LINE_TABLE
from reports.files import atomic_output_path
from reports.formatting import CURRENCY, format_count, format_money, money_sum
from schemas.bill_cycle import BillCycle

FONT = "WenQuanYiMicroHei"
FONT_PATH = files("paperang_p2_fonts_cjk").joinpath("fonts/wqy-microhei.ttc")
FONT_FACE = 0  # the collection's proportional face (1 is the monospaced one)

TOTAL_DUE_LABEL = "Total due"
USAGE_TITLE = "Usage"
REFUNDS_TITLE = "Refunds"

_PAGE_MARGIN = 15  # mm
# Service, resource type, lines, list price, charge: widths in mm on an A4 page (180 mm of text width)
_COLUMNS = (("Service", 52, "L"), ("Resource type", 52, "L"), ("Lines", 18, "R"),
            (f"List price ({CURRENCY})", 29, "R"), (f"Charge ({CURRENCY})", 29, "R"))


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
                              bill_paths: Mapping[str | None, Path],
                              lines_table: str = BILL_LINE_TABLE) -> dict[str | None, Path]:
    """A PDF beside each customer's CSV bill (same name, ``.pdf``); returns customer id -> PDF path.
    Statements of customers no longer billed are removed, as their CSV bills are."""
    statements = load_statements(con, bill_cycle, lines_table)
    statements = [statement for statement in statements if statement.customer_id in bill_paths]
    written: dict[str | None, Path] = {}
    with tempfile.TemporaryDirectory(prefix="billrecon-font-") as scratch:
        documents = [_StatementDocument(bill_cycle, statement, bill_paths[statement.customer_id].name)
                     for statement in statements]
        font = month_font(Path(scratch), "".join(document.text() for document in documents))
        for document in documents:
            path = bill_paths[document.statement.customer_id].with_suffix(".pdf")
            document.write(path, font)
            written[document.statement.customer_id] = path
    if bill_paths:
        folder = next(iter(bill_paths.values())).parent
        current = set(written.values())
        for stale in folder.glob("*.pdf"):
            if stale not in current:
                stale.unlink()
    return written


def month_font(directory: Path, text: str) -> Path:
    """The statements' font reduced to the characters of `text` (and printable ASCII), as a TrueType file."""
    # the font's FontForge timestamp table cannot be subset and is dropped: not worth a log line per month
    logging.getLogger("fontTools.subset").setLevel(logging.ERROR)
    options = subset.Options()
    options.font_number = FONT_FACE
    options.name_IDs = ["*"]
    options.notdef_outline = True
    font = subset.load_font(str(FONT_PATH), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted({ord(character) for character in text} | set(range(0x20, 0x7F))))
    subsetter.subset(font)
    path = directory / "statement-font.ttf"
    subset.save_font(font, str(path), options)
    return path


# Characters the layout itself prints beyond printable ASCII
_LAYOUT_CHARACTERS = "–—…·"


class _StatementDocument(FPDF):
    def __init__(self, bill_cycle: str, statement: CustomerStatement, lines_file: str):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.bill_cycle = bill_cycle
        self.issuer = statement.issuer
        self.statement = statement
        self.lines_file = lines_file
        cycle = BillCycle.parse(bill_cycle)
        first, last = cycle.first_day, cycle.last_day
        self.period_text = f"{bill_cycle} ({first:%d %b %Y} – {last:%d %b %Y}, GMT+8)"
        # the document's dates are the period's end: the same data gives the same bytes
        self.set_creation_date(dt.datetime.combine(last, dt.time(), tzinfo=dt.UTC))
        self.set_title(f"Statement {bill_cycle} – {statement.customer_name or statement.customer_id}")
        self.set_author(self.issuer.partner_name or self.issuer.partner_id or "")
        self.set_creator("billrecon")
        self.set_margins(_PAGE_MARGIN, _PAGE_MARGIN, _PAGE_MARGIN)
        self.set_auto_page_break(True, margin=_PAGE_MARGIN + 5)

    def text(self) -> str:
        """Every character this statement can print beyond the layout's own."""
        parts = [_LAYOUT_CHARACTERS, self.lines_file, self.issuer.partner_id or "", self.issuer.partner_name or "",
                 self.statement.customer_id or "", self.statement.customer_name]
        parts += [f"{row.service}{row.resource_type}" for row in (*self.statement.usage, *self.statement.refunds)]
        return "".join(parts)

    def write(self, path: Path, font: Path) -> Path:
        self.add_font(FONT, "", str(font))
        self.add_page()
        self.title_block()
        self.summary()
        self.grouped_table(USAGE_TITLE, self.statement.usage, self.statement.usage_charge)
        if self.statement.refunds:
            self.grouped_table(REFUNDS_TITLE, self.statement.refunds, self.statement.refund_charge)
        self.closing_notes()
        with atomic_output_path(path) as temp_path:
            self.output(str(temp_path))
        return path

    def footer(self) -> None:
        self.set_y(-_PAGE_MARGIN)
        self.set_font(FONT, "", 7)
        self.set_text_color(110)
        customer = self.statement.customer_id or ""
        self.cell(0, 4, f"{customer} · {self.bill_cycle} · page {self.page_no()} of {{nb}}", align="R")
        self.set_text_color(0)

    def title_block(self) -> None:
        self.set_font(FONT, "", 18)
        self.cell(0, 10, "Statement", new_x="LMARGIN", new_y="NEXT")
        self.ln(1)
        issuer = self.issuer.partner_name or self.issuer.partner_id or "—"
        if self.issuer.partner_name and self.issuer.partner_id:
            issuer += f" (partner {self.issuer.partner_id})"
        customer = self.statement.customer_name or "—"
        if self.statement.customer_id:
            customer += f" (customer {self.statement.customer_id})"
        for label, value in (("Issued by", issuer), ("Billed to", customer), ("Period", self.period_text),
                             ("Currency", CURRENCY)):
            self.set_font(FONT, "", 9)
            self.set_text_color(90)
            self.cell(28, 5.5, label)
            self.set_text_color(0)
            self.set_font(FONT, "", 11 if label == "Billed to" else 10)
            self.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
        self.ln(4)

    def summary(self) -> None:
        statement = self.statement
        rows = [(f"{USAGE_TITLE} at the agreed discount", statement.usage_charge)]
        if statement.refunds:
            rows.append((REFUNDS_TITLE, statement.refund_charge))
        self.set_font(FONT, "", 10)
        for label, amount in rows:
            self.cell(120, 6, label)
            self.cell(60, 6, f"{CURRENCY} {format_money(amount)}", align="R", new_x="LMARGIN", new_y="NEXT")
        self.set_draw_color(0)
        self.line(self.l_margin + 100, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 13)
        self.cell(120, 9, TOTAL_DUE_LABEL)
        self.cell(60, 9, f"{CURRENCY} {format_money(statement.total_due)}", align="R",
                  new_x="LMARGIN", new_y="NEXT")
        self.ln(5)

    def grouped_table(self, title: str, rows: list[GroupRow], total: Decimal) -> None:
        self.set_font(FONT, "", 12)
        self.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
        self._header_row()
        if not rows:
            self.set_font(FONT, "", 9)
            self.cell(0, 6, "No usage this month.", new_x="LMARGIN", new_y="NEXT")
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
        self.ln(4)

    def closing_notes(self) -> None:
        self.set_font(FONT, "", 8)
        self.set_text_color(90)
        self.multi_cell(0, 4.2, (
            f"Amounts in {CURRENCY}, rounded half-up to the cent; every subtotal and total is its exact sum rounded, "
            "so rounded rows may differ from it by a cent. Charges are list prices at the discount agreed with "
            "the issuer on each line's trade date (GMT+8); refunds are credited at the agreed discount too. "
            f"Every line of this statement is in {self.lines_file}."), new_x="LMARGIN", new_y="NEXT")
        self.set_text_color(0)

    def _header_row(self) -> None:
        self.set_font(FONT, "", 8)
        self.set_fill_color(225)
        for name, width, align in _COLUMNS:
            self.cell(width, 6, name, align=align, fill=True)
        self.ln()

    def _row(self, values: Iterable[str], shaded: bool = False, rule: bool = False) -> None:
        if self.will_page_break(5.5):
            self.add_page()
            self._header_row()
        if rule:
            self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 8)
        self.set_fill_color(245)
        for value, (_, width, align) in zip(values, _COLUMNS):
            self.cell(width, 5.5, _fit(self, value, width - 2), align=align, fill=shaded)
        self.ln()


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text` cut with an ellipsis to fit `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
