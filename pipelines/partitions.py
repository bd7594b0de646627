"""Bill cycles as monthly partitions ('YYYY-MM' keys, read with `BillCycle.parse`); the open month is
included (end_offset=1)."""

import dagster as dg

from schemas.bill_cycle import CYCLE_FORMAT, GMT8_ZONE_NAME, BillCycle

FIRST_BILL_CYCLE = BillCycle(2024, 1)

bill_cycle_partitions = dg.MonthlyPartitionsDefinition(
    start_date=str(FIRST_BILL_CYCLE), fmt=CYCLE_FORMAT, end_offset=1, timezone=GMT8_ZONE_NAME
)
