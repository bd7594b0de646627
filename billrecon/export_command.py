"""`billrecon export focus`: one closed month of a FOCUS 1.2 view as a CSV or Parquet file (docs/focus.md)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path


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
    focus.add_argument("--warehouse", metavar="FILE",
                       help="warehouse file (default BILLRECON_WAREHOUSE or warehouse/billrecon.duckdb)")
    focus.add_argument("--partner", metavar="ID", help="only this partner's rows (the partner HUAWEI CLOUD bills)")


def run(args) -> int:
    import duckdb

    from billrecon.commands import UserError
    from pipelines.lib.focus import FocusExportError, export
    from pipelines.lib.warehouse import WarehouseBusy, connect
    from pipelines.resources import WarehouseResource

    warehouse = Path(args.warehouse or os.environ.get("BILLRECON_WAREHOUSE") or WarehouseResource().path)
    if not warehouse.is_file():
        raise UserError(f"warehouse {warehouse} does not exist; pass --warehouse FILE or run "
                        f"`billrecon run --month {args.month}` first")
    try:
        con = connect(warehouse, read_only=True)
    except (duckdb.Error, WarehouseBusy) as exc:
        raise UserError(f"cannot open warehouse {warehouse}: {str(exc).strip().splitlines()[0]}") from None
    try:
        written = export(con, args.month, args.view, Path(args.out), args.partner)
    except FocusExportError as exc:
        raise UserError(str(exc)) from None
    finally:
        con.close()
    print(f"{written.path}: {written.rows} rows ({args.view} view, {args.month})")
    return 0
