"""The notes at the top of a month-close pack: what the month or the run leaves out of it, and why."""

from __future__ import annotations

# what a pack leaves out without the BSS partner API, however that is known
_WITHOUT_API = (
    "the tie-outs against HUAWEI CLOUD's monthly bill, the discount audit against commercial discounts, "
    "incentives, budgets and coupons are not part of this pack. Everything fed by the bill files is complete."
)
API_SKIPPED_NOTE = f"BSS partner API not configured (BILLRECON_BSS_ENDPOINT is not set): {_WITHOUT_API}"

# the source of a pull of the BSS partner API in audit.loads and marts.data_quality: 'api:<dataset>'
# (ApiDataset.source in pipelines/lib/bss/datasets.py), with the bill cycle of a dataset pulled per cycle
API_SOURCE_PREFIX = "api:"


def api_absent_note(bill_cycle: str) -> str:
    """The note of a pack re-rendered from a warehouse whose month was built without the BSS API."""
    return (f"Built without the BSS partner API: this warehouse holds no pull of it for {bill_cycle}, so "
            f"{_WITHOUT_API}")


def bill_file_loads(con, bill_cycle: str) -> tuple[int, int]:
    """(load rows of the cycle's bill file in audit.loads, rows read from them); (0, 0) until it is delivered."""
    return con.execute(
        "select count(*), coalesce(sum(rows_read), 0) from audit.loads where source = 'customerBill' "
        "and bill_cycle = ?", [bill_cycle]).fetchone()


def api_pulled(con, bill_cycle: str) -> bool:
    """Whether the month in the warehouse was built with the BSS partner API: marts.data_quality (what the
    run that built the marts had loaded) lists a pull of the API for the cycle. Every run with the API
    pulls the datasets bound to its cycle (the partner's monthly bill, customer monthly sums, orders,
    incentive policies), and one without it pulls nothing; what the shell re-rendering the pack has
    configured does not matter."""
    return con.execute(
        "select count(*) > 0 from marts.data_quality where starts_with(source, ?) and bill_cycle = ?",
        [API_SOURCE_PREFIX, bill_cycle]).fetchone()[0]


def report_notes(api_configured: bool, bill_file_present: bool, bill_cycle: str, lines_read: int = 0,
                 api_note: str = API_SKIPPED_NOTE) -> list[str]:
    """The notes of the cycle's pack; ``api_note`` says why the BSS API's parts are missing when
    ``api_configured`` is False (by default: the run has no BSS API configured)."""
    notes = []
    if not bill_file_present:
        notes.append(f"No partner bill file has been delivered for {bill_cycle} yet: the month is open or late "
                     "(HUAWEI CLOUD delivers it before 12:00 GMT+8 on the 5th of the next month).")
    elif lines_read == 0:
        notes.append(f"The partner bill file for {bill_cycle} was delivered but holds no lines (or none that "
                     "could be read): check the data quality section before closing the month.")
    if not api_configured:
        notes.append(api_note)
    return notes
