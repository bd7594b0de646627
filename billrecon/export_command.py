"""`billrecon export focus`: one closed month of a FOCUS 1.2 view as a CSV or Parquet file (docs/focus.md)."""

from __future__ import annotations

import argparse
from pathlib import Path

from billrecon.refusals import WAREHOUSE_HELP


def add_parser(sub: argparse._SubParsersAction, month_type) -> None:
    export = sub.add_parser("export", help="write the warehouse's data in an open format")
    export_sub = export.add_subparsers(dest="export_format", required=True)
    focus = export_sub.add_parser(
        "focus", help="a FOCUS 1.2 cost and usage file of one closed month",
        description="Write one closed month of a FOCUS 1.2 view: partner (what HUAWEI CLOUD bills the partner, "
                    "marts.focus_partner_cost) or customer (what the partner bills each customer, "
                    "marts.focus_customer_billing). The file name's extension chooses the format.")
    focus.add_argument("--month", type=month_type, required=True, help="bill cycle, YYYY-MM")
    focus.add_argument("--view", required=True, metavar="partner|customer")
    focus.add_argument("--out", required=True, metavar="FILE", help="FILE.csv or FILE.parquet")
    focus.add_argument("--warehouse", metavar="FILE", help=WAREHOUSE_HELP)
    focus.add_argument("--partner", metavar="ID", help="only this partner's rows (the partner HUAWEI CLOUD bills)")


def run(args) -> int:
    """Only reads the warehouse (a read-only connection), so it takes no lease: a run writing
    meanwhile holds the file, and the connection is refused with one line (exit 2)."""
    import duckdb

    from billrecon.commands import warehouse_path
    from billrecon.refusals import WAREHOUSE_GIVEN, UserError, check_given, check_request, folder_problem
    from pipelines.lib.warehouse import NotAWarehouse, WarehouseBusy, connect
    from reports.focus_export import FocusExportError, export

    check_given(args.out, "--out", "the path of the file to write, FILE.csv or FILE.parquet")
    check_given(args.warehouse, "--warehouse", WAREHOUSE_GIVEN)
    out = Path(args.out)
    # the file goes into a folder that exists (none is created for it); one that cannot be written
    # at all is found here, a file it cannot take when it is written
    problem = folder_problem(out.parent, created=False)
    if problem:
        raise UserError(f"cannot write {out}: {out.parent} {problem}: give a path in a folder this user can write")
    warehouse = warehouse_path(args)
    # the month is checked against the warehouse's own months below, which names the closed ones; the
    # published snapshot is one to read
    check_request(None, warehouse, None, writes=False)
    if not warehouse.is_file():
        raise UserError(f"warehouse {warehouse} does not exist; pass --warehouse FILE or run "
                        f"`billrecon run --month {args.month}` first")
    try:
        con = connect(warehouse, read_only=True)
    except (WarehouseBusy, NotAWarehouse) as exc:  # already the line: the cause and what to do
        raise UserError(str(exc)) from None
    except duckdb.Error as exc:
        raise UserError(f"cannot open warehouse {warehouse}: {str(exc).strip().splitlines()[0]}") from None
    try:
        written = export(con, args.month, args.view, out, args.partner)
    except FocusExportError as exc:
        raise UserError(str(exc)) from None
    finally:
        con.close()
    print(f"{written.path}: {written.rows} rows ({args.view} view, {args.month})")
    return 0
