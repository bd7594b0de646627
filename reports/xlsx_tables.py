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
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

import xlsxwriter
from xlsxwriter.worksheet import Worksheet

from reports.formatting import utc_timestamp_text
from schemas.warehouse_contract import column_note
from reports.safety import neutralise_spreadsheet_text

MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
RATIO_FORMAT = "0.00%"
RATE_FORMAT = "0.00##%"
EXACT_FORMAT = "#,##0.00######"
INTEGER_FORMAT = "0"

# Excel's hard limits: rows per sheet and characters per cell.
EXCEL_MAX_ROWS = 1_048_576
EXCEL_MAX_CELL_CHARS = 32_767

CellKind = Literal["text", "money", "count", "ratio", "rate", "exact", "integer", "auto"]

NUMBER_FORMATS: dict[str, str] = {
    "money": MONEY_FORMAT,
    "count": COUNT_FORMAT,
    "ratio": RATIO_FORMAT,
    "rate": RATE_FORMAT,
    "exact": EXACT_FORMAT,
    "integer": INTEGER_FORMAT,
}

_DEFAULT_WIDTHS: dict[str, float] = {
    "text": 22, "money": 15, "count": 10, "ratio": 10, "rate": 10, "exact": 14,
    "integer": 10, "auto": 18,
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
        self.section = workbook.add_format({"bold": True})
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
    sheet.write_string(row, column, spreadsheet_text(value))


def write_note(sheet: Worksheet, formats: Formats, row: int, text: str) -> None:
    """A line of explanation (neutralised like any text) in the first column."""
    sheet.write_string(row, 0, spreadsheet_text(text), formats.section)


def _kind_of(value: Any) -> CellKind:
    if isinstance(value, bool):
        return "text"
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
