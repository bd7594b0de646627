"""Writing tables into xlsxwriter worksheets, shared by every sheet of the month-close workbook.

Every sheet holds a table: a bold header row that stays frozen, an autofilter over the table, and
column formats by kind. Money is written as numbers with format ``#,##0.00`` (the float keeps the
stored 8-decimal value to double precision; only the display is rounded). Ids and every other text
go through ``write_string`` after ``neutralise_spreadsheet_text``, never through ``write``, which
would turn a text starting with ``=`` into a live formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from reports.formatting import status_text, utc_timestamp_text
from reports.safety import neutralise_spreadsheet_text
from schemas.bill_cycle import GMT8
from schemas.warehouse_contract import column_note

MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
RATIO_FORMAT = "0.00%"
RATE_FORMAT = "0.00##%"
EXACT_FORMAT = "#,##0.00######"
INTEGER_FORMAT = "0"

# Excel's hard limits: rows per sheet and characters per cell.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767

CellKind = Literal["text", "money", "count", "ratio", "rate", "exact", "integer", "auto",
                   "date", "datetime_utc", "datetime_gmt8"]

NUMBER_FORMATS: dict[str, str] = {
    "money": MONEY_FORMAT,
    "count": COUNT_FORMAT,
    "ratio": RATIO_FORMAT,
    "rate": RATE_FORMAT,
    "exact": EXACT_FORMAT,
    "integer": INTEGER_FORMAT,
}

# Dates and instants are real Excel dates. Excel has no time zones: an instant is written as the
# wall-clock time of the zone its kind names (UTC for load times, GMT+8 for HUAWEI CLOUD's business
# times), and the column header says which.
DATE_FORMATS: dict[str, str] = {
    "date": "yyyy-mm-dd",
    "datetime_utc": "yyyy-mm-dd hh:mm:ss",
    "datetime_gmt8": "yyyy-mm-dd hh:mm:ss",
}
_DATE_ZONES = {"datetime_utc": UTC, "datetime_gmt8": GMT8}

_DEFAULT_WIDTHS: dict[str, float] = {
    "text": 22, "money": 15, "count": 10, "ratio": 10, "rate": 10, "exact": 14,
    "integer": 10, "auto": 18, "date": 11, "datetime_utc": 19, "datetime_gmt8": 19,
}


@dataclass(frozen=True)
class Column:
    """One column of a sheet: header text, how to read the value from a record, its kind, and the
    warehouse column it shows (``source``), whose contract becomes the header's note."""

    header: str
    value: Callable[[Any], Any]
    kind: CellKind = "text"
    width: float | None = None
    source: str | None = None


def field(name: str, header: str, kind: CellKind = "text", width: float | None = None) -> Column:
    """A column that shows the row's ``name`` field as is."""
    return Column(header, lambda row: row[name], kind, width, source=name)


def worded(name: str, header: str, width: float | None = None) -> Column:
    """A column of codes such as statuses shown as words (``missing_in_file`` -> ``missing in file``),
    the way the page shows them."""
    return Column(header, lambda row: None if row[name] is None else status_text(row[name]), "text", width,
                  source=name)


class Formats:
    """The workbook's cell formats, created once per workbook as xlsxwriter requires."""

    def __init__(self, workbook: xlsxwriter.Workbook) -> None:
        self.header = workbook.add_format({
            "bold": True, "bg_color": "#DCE3EA", "bottom": 1, "text_wrap": True,
            "valign": "top",
        })
        self.number = {kind: workbook.add_format({"num_format": number_format})
                       for kind, number_format in NUMBER_FORMATS.items()}
        self.total_label = workbook.add_format({"bold": True, "top": 1})
        self.total_number = {kind: workbook.add_format({"num_format": number_format,
                                                         "bold": True, "top": 1})
                             for kind, number_format in NUMBER_FORMATS.items()}
        self.date = {kind: workbook.add_format({"num_format": date_format, "align": "left"})
                     for kind, date_format in DATE_FORMATS.items()}
        self.section = workbook.add_format({"bold": True})
        self.title = workbook.add_format({"bold": True, "font_size": 14})
        self.note = workbook.add_format({"text_wrap": True, "valign": "top"})


def write_table(
    sheet: Worksheet,
    formats: Formats,
    columns: Sequence[Column],
    records: Iterable[Any],
    kind_overrides: dict[int, list[CellKind | None]] | None = None,
    first_row: int = 0,
    frozen_and_filtered: bool = True,
    notes_from: str | None = None,
) -> int:
    """Write a header row at ``first_row`` and one row per record; freeze the header, filter the table.

    Returns the index of the first row after the table. A table longer than Excel allows is cut
    with a closing line saying so (the CSV export has every row). A sheet has one frozen pane and
    one filter: a small table above the main one passes ``frozen_and_filtered=False``.
    ``notes_from`` names the public table (``schema.table``) the columns come from: see
    ``write_header_notes``.
    """
    # Headers wrap within their column; the row is made tall enough for the longest (a wrapped
    # row's height is not worked out by every spreadsheet program, LibreOffice's among them).
    header_lines = max((_wrapped_lines(column.header, column.width or _DEFAULT_WIDTHS[column.kind])
                        for column in columns), default=1)
    sheet.set_row(first_row, 15 * header_lines)
    for index, column in enumerate(columns):
        sheet.set_column(index, index, column.width or _DEFAULT_WIDTHS[column.kind])
        sheet.write_string(first_row, index, column.header, formats.header)
    if notes_from:
        write_header_notes(sheet, columns, notes_from, first_row)
    if frozen_and_filtered:
        sheet.freeze_panes(first_row + 1, 0)

    row_index = first_row
    for position, record in enumerate(records, start=1):
        row_index = first_row + position
        if row_index == EXCEL_MAX_ROWS - 1:
            sheet.write_string(row_index, 0, "Truncated at Excel's row limit; "
                                             "the CSV export has every row.", formats.section)
            break
        for column_index, column in enumerate(columns):
            kind = column.kind
            if kind_overrides and column_index in kind_overrides:
                kind = kind_overrides[column_index][position - 1] or kind
            write_cell(sheet, formats, row_index, column_index, column.value(record), kind)

    if frozen_and_filtered:
        sheet.autofilter(first_row, 0, max(row_index, first_row + 1), len(columns) - 1)
    return row_index + 1


def write_header_notes(sheet: Worksheet, columns: Sequence[Column], table: str, row: int) -> None:
    """The header of each column that shows a column of the public table ``table`` gets a note with
    that column's meaning and unit, from the warehouse contract (schemas/warehouse_contract.py)."""
    for index, column in enumerate(columns):
        note = column_note(table, column.source) if column.source else None
        if note:
            sheet.write_comment(row, index, note, {"x_scale": 2})


def _wrapped_lines(text: str, width: float) -> int:
    """How many lines ``text`` wraps to, word by word, in a column ``width`` characters wide
    (bold text is a little wider than the width counts: allow one character of margin)."""
    lines, used = 1, 0
    for word in text.split():
        if used and used + 1 + len(word) > width - 1:
            lines, used = lines + 1, len(word)
        else:
            used += (1 if used else 0) + len(word)
    return lines


def write_total_row(
    sheet: Worksheet,
    formats: Formats,
    row_index: int,
    columns: Sequence[Column],
    record: dict[str, Any],
    label_column: int,
    label: str = "Total",
) -> None:
    """A bold total line under a table, outside its filter range so sorting leaves it in place."""
    for column_index, column in enumerate(columns):
        if column_index == label_column:
            sheet.write_string(row_index, column_index, label, formats.total_label)
        elif column.kind in NUMBER_FORMATS:
            value = column.value(record)
            if value is not None:
                sheet.write_number(row_index, column_index, float(value) + 0.0,
                                   formats.total_number[column.kind])
            else:
                sheet.write_blank(row_index, column_index, None, formats.total_label)
        else:
            sheet.write_blank(row_index, column_index, None, formats.total_label)


def write_cell(
    sheet: Worksheet, formats: Formats, row: int, column: int, value: Any, kind: CellKind
) -> None:
    """Write one value as the kind says; ``auto`` decides by the Python type of the value."""
    if value is None:
        return
    if kind == "auto":
        kind = _kind_of(value)
    if kind in NUMBER_FORMATS and isinstance(value, (int, float, Decimal)) \
            and not isinstance(value, bool):
        # "+ 0.0" turns a negative zero into zero, which Excel would otherwise show as -0.00.
        sheet.write_number(row, column, float(value) + 0.0, formats.number[kind])
        return
    if kind in DATE_FORMATS:
        moment = excel_date(value, kind)
        if moment is not None:
            sheet.write_datetime(row, column, moment, formats.date[kind])
            return
    sheet.write_string(row, column, spreadsheet_text(value))


def excel_date(value: Any, kind: CellKind) -> date | datetime | None:
    """``value`` as a naive date or wall-clock time for Excel; None when it is not one.

    Text in ISO form (the bill file's GMT+8 trade times are kept as text) is parsed; a stored
    instant is converted to the zone of ``kind`` first, whatever the session's time zone.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value) if kind != "date" else date.fromisoformat(value)
        except ValueError:
            return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_DATE_ZONES.get(kind, UTC)).replace(tzinfo=None)
        return value.date() if kind == "date" else value
    if isinstance(value, date):
        return value
    return None


def write_note(sheet: Worksheet, formats: Formats, row: int, text: str) -> None:
    """A line of explanation (neutralised like any text) in the first column."""
    sheet.write_string(row, 0, spreadsheet_text(text), formats.section)


def _kind_of(value: Any) -> CellKind:
    if isinstance(value, bool):
        return "text"
    if isinstance(value, datetime):
        return "datetime_utc"
    if isinstance(value, date):
        return "date"
    if isinstance(value, Decimal):
        # Decimals of the audit tables are not always money (a finding's expected and actual
        # values can be discount rates), so show every stored digit rather than cents.
        return "exact"
    if isinstance(value, int):
        return "integer"
    return "text"


def spreadsheet_text(value: Any) -> str:
    """Text for a cell: timestamps in UTC, formula triggers neutralised, cut to Excel's limit."""
    if isinstance(value, datetime):
        text = utc_timestamp_text(value)
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    text = neutralise_spreadsheet_text(text)
    if len(text) > EXCEL_MAX_CELL_CHARS:
        marker = " …[cut at Excel's cell limit]"
        text = text[: EXCEL_MAX_CELL_CHARS - len(marker)] + marker
    return text


# A printed sheet shows at most this many rows of its table: the long detail sheets (every bill
# line, quarantined row or finding) would otherwise print to hundreds of pages nobody reads. The
# footer of a sheet printed short says how many rows it has; the sheet itself keeps them all.
PRINT_ROW_LIMIT = 100
_A4 = 9


def set_print_layout(sheet: Worksheet, bill_cycle: str, *, one_page: bool = False) -> None:
    """Landscape A4 fitted to the page width, the table's header repeated on every page, and a
    print area of the sheet's content (cut at PRINT_ROW_LIMIT table rows); ``one_page`` fits the
    whole sheet on one page.

    Call it once the sheet is written: it reads the sheet's extent and its frozen header row
    (xlsxwriter's ``dim_rowmax``/``dim_colmax`` and ``panes``, kept in constant-memory mode too).
    """
    sheet.set_landscape()
    sheet.set_paper(_A4)
    sheet.set_margins(left=0.4, right=0.4, top=0.6, bottom=0.6)
    # A table's gridlines are printed (a row is easier to follow across a wide page); the one-page
    # statement reads better without them.
    sheet.hide_gridlines(1 if one_page else 0)
    sheet.fit_to_pages(1, 1 if one_page else 0)
    last_row, last_column = sheet.dim_rowmax, sheet.dim_colmax
    footer_right = ""
    if last_row is not None and last_column is not None:
        print_last_row = last_row
        header_row = sheet.panes[0] - 1 if sheet.panes else None
        if header_row is not None and header_row >= 0:
            sheet.repeat_rows(header_row)
            if not one_page and last_row - header_row > PRINT_ROW_LIMIT:
                print_last_row = header_row + PRINT_ROW_LIMIT
                footer_right = (f"&RPrinted: the first {PRINT_ROW_LIMIT:,} of {last_row - header_row:,} "
                                "rows (the sheet has them all)")
        sheet.print_area(0, 0, print_last_row, last_column)
    name = sheet.get_name().replace("&", "&&")
    sheet.set_footer(f"&LMonth close {bill_cycle} · {name}&CPage &P of &N{footer_right}")
