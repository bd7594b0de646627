"""Restatements: what a re-delivered monthly bill file changed, line by line (audit.restatement_line).

Before the new delivery replaces the month, the lines of the old one are kept aside in a temporary
table; afterwards the two are compared on each line's identity.
"""

from __future__ import annotations

import duckdb

from pipelines.lib import audit
from pipelines.lib.landing import Delivery

# A line's identity across deliveries: its keys, numbered when the same keys occur more than once.
_LINE_VERSION_SQL = """
    select customer_id, bill_type, trade_id, resource_id, usage_type, trade_time,
           row_number() over (partition by customer_id, bill_type, trade_id, resource_id, usage_type, trade_time
                              order by official_amount, amount_due, usage_amount) as occurrence,
           official_amount, discount_amount, amount_due, usage_amount
    from staging.bill_line where bill_cycle = ?"""


def keep_previous_lines(con: duckdb.DuckDBPyConnection, bill_cycle: str) -> None:
    """Set the month's current lines aside (temp table) before a new delivery replaces them."""
    con.execute(f"create or replace temp table previous_lines as {_LINE_VERSION_SQL}", [bill_cycle])


def record_restatement(con: duckdb.DuckDBPyConnection, delivery: Delivery, bill_cycle: str,
                       previous_etag: str) -> None:
    """Compare the new delivery's lines with the ones set aside; one row per added, removed or changed line."""
    con.execute(f"create or replace temp table new_lines as {_LINE_VERSION_SQL}", [bill_cycle])
    audit.insert_select(
        con, "audit.restatement_line", audit.AUDIT_COLUMNS["audit.restatement_line"],
        """select ?, ?, ?, ?, now(),
                  coalesce(n.customer_id, p.customer_id), coalesce(n.bill_type, p.bill_type),
                  coalesce(n.trade_id, p.trade_id), coalesce(n.resource_id, p.resource_id),
                  coalesce(n.usage_type, p.usage_type), coalesce(n.trade_time, p.trade_time),
                  case when p.trade_id is null then 'added' when n.trade_id is null then 'removed'
                       else 'changed' end,
                  p.amount_due, n.amount_due, coalesce(n.amount_due, 0) - coalesce(p.amount_due, 0)
           from new_lines n
           full join previous_lines p
             on n.customer_id = p.customer_id and n.bill_type = p.bill_type and n.trade_id = p.trade_id
            and n.resource_id is not distinct from p.resource_id and n.usage_type is not distinct from p.usage_type
            and n.trade_time = p.trade_time and n.occurrence = p.occurrence
           where p.trade_id is null or n.trade_id is null
              or n.official_amount <> p.official_amount or n.discount_amount <> p.discount_amount
              or n.amount_due <> p.amount_due or n.usage_amount is distinct from p.usage_amount""",
        [bill_cycle, delivery.object_key, previous_etag, delivery.etag],
    )
    con.execute("drop table new_lines")
    con.execute("drop table previous_lines")
