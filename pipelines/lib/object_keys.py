"""The object keys of HUAWEI CLOUD's deliveries, one definition each (docs/formats.md): the monthly
bill file `customerBill/customerBill_YYYYMM.tar.gz` and the daily usage exports
`customerUsage/customerUsageV2_YYYYMM_YYYYMMDD.tar.gz`. The sensor, landing and staging name and
read keys through these functions; the month in a key is read by `BillCycle.parse_compact`."""

from __future__ import annotations

import re
from datetime import date, datetime

from schemas.bill_cycle import BillCycle

BILL_PREFIX = "customerBill/"
_BILL_FILE_KEY = re.compile(r"customerBill/customerBill_(\d{6})\.tar\.gz", re.ASCII)
_USAGE_EXPORT_KEY = re.compile(r"customerUsage/customerUsageV2_(\d{6})_(\d{8})\.tar\.gz", re.ASCII)


def bill_file_key(bill_cycle: BillCycle) -> str:
    """Object key of the cycle's partner bill file."""
    return f"{BILL_PREFIX}customerBill_{bill_cycle.compact}.tar.gz"


def bill_file_cycle(key: str) -> BillCycle | None:
    """The cycle a bill file's key names; None for any other key. A key of the bill file's form whose
    YYYYMM is no month (customerBill_202613.tar.gz) is a ValueError saying so, in one line."""
    match = _BILL_FILE_KEY.fullmatch(key)
    return BillCycle.parse_compact(match.group(1)) if match else None


def usage_export_prefix(bill_cycle: BillCycle) -> str:
    """What the object keys of the cycle's daily usage exports start with."""
    return f"customerUsage/customerUsageV2_{bill_cycle.compact}_"


def parse_usage_key(key: str) -> tuple[BillCycle, date] | None:
    """The bill cycle and export date a daily usage export's key names. None for another key, and
    for a key of that form naming no month or no date: it is not an export, so it is ignored."""
    match = _USAGE_EXPORT_KEY.fullmatch(key)
    if not match:
        return None
    try:
        return BillCycle.parse_compact(match.group(1)), datetime.strptime(match.group(2), "%Y%m%d").date()
    except ValueError:
        return None
