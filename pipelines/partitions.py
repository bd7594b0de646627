"""Bill cycles as monthly partitions ('YYYY-MM'); the open month is included (end_offset=1)."""

import dagster as dg

bill_cycle_partitions = dg.MonthlyPartitionsDefinition(
    start_date="2024-01", fmt="%Y-%m", end_offset=1, timezone="Asia/Shanghai"
)
