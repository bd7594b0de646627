"""The notes at the top of a month-close pack: what the month or the run leaves out of it, and why."""

from __future__ import annotations

API_SKIPPED_NOTE = (
    "BSS partner API not configured (BILLRECON_BSS_ENDPOINT is not set): the tie-outs against HUAWEI "
    "CLOUD's monthly bill, the discount audit against commercial discounts, incentives, budgets and "
    "coupons are not part of this pack. Everything fed by the bill files is complete."
)


def bill_file_loads(con, bill_cycle: str) -> tuple[int, int]:
    """(load rows of the cycle's bill file in audit.loads, rows read from them); (0, 0) until it is delivered."""
    return con.execute(
        "select count(*), coalesce(sum(rows_read), 0) from audit.loads where source = 'customerBill' "
        "and bill_cycle = ?", [bill_cycle]).fetchone()


def report_notes(api_configured: bool, bill_file_present: bool, bill_cycle: str, lines_read: int = 0) -> list[str]:
    notes = []
    if not bill_file_present:
        notes.append(f"No partner bill file has been delivered for {bill_cycle} yet: the month is open or late "
                     "(HUAWEI CLOUD delivers it before 12:00 GMT+8 on the 5th of the next month).")
    elif lines_read == 0:
        notes.append(f"The partner bill file for {bill_cycle} was delivered but holds no lines (or none that "
                     "could be read): check the data quality section before closing the month.")
    if not api_configured:
        notes.append(API_SKIPPED_NOTE)
    return notes
