"""A writer process for the DuckLake tests: `python -m tests.integration.lake_writer '<json>'`.

The job names the lake (catalog, data path, S3 keys), the partner, and a mode:
- `replace`: wait until every writer named in `barrier` is ready, then replace the partner's bill
  cycles one after another (tables core.bill_line and marts.expenditure, `lines` rows per cycle whose
  amounts add up to `round`), holding each transaction open `hold_seconds` so writers overlap; print
  one JSON line per commit (cycle, snapshot id, attempts).
- `hold`: replace the partner's cycle, then, before committing, write `ready` and sleep until killed.
- `spill`: wait for the `barrier` as `replace` does, then run the query of tests/spilling.py that spills
  under a small memory budget, and print its result and the connection's spill folder (`print_spilled`).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from decimal import Decimal
from pathlib import Path

from pipelines.lib import lakehouse
from pipelines.lib.bss.retry import RetryPolicy
from tests.spilling import print_spilled


def partition_rows(partner_id: str, bill_cycle: str, lines: int, round_number: int) -> dict[str, str]:
    """`lines` bill lines of amount round/lines each, and their one-row total."""
    amount = Decimal(round_number) / lines
    return {
        "core.bill_line": f"""select '{partner_id}' as partner_account_id, '{bill_cycle}' as bill_cycle,
                                     'L' || range as line_id, {amount}::decimal(20,8) as amount_due,
                                     {round_number} as round
                              from range({lines})""",
        "marts.expenditure": f"""select '{partner_id}' as partner_account_id, '{bill_cycle}' as bill_cycle,
                                        ({amount}::decimal(20,8) * {lines})::decimal(20,8) as amount_due,
                                        {round_number} as round""",
    }


def settings(job: dict) -> lakehouse.LakeSettings:
    s3 = lakehouse.S3Storage(**job["s3"]) if job.get("s3") else None
    return lakehouse.LakeSettings(catalog=job["catalog"], data_path=job["data_path"], s3=s3)


def main(job: dict) -> None:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(message)s")
    con = lakehouse.connect(settings(job))
    partner = job["partner_id"]
    if job["mode"] == "hold":
        partition = lakehouse.Partition(partner, job["bill_cycle"])
        with lakehouse.partition_transaction(con, partition, ["core.bill_line", "marts.expenditure"],
                                             run_id=job["run_id"]):
            for table, sql in partition_rows(partner, job["bill_cycle"], job["lines"], job["round"]).items():
                lakehouse.insert_partition_rows(con, partition, table, sql)
            Path(job["ready"]).write_text("inserted, not committed")
            time.sleep(600)
        return
    Path(job["ready"]).write_text("attached")
    deadline = time.monotonic() + 60
    while not all(Path(other).exists() for other in job["barrier"]) and time.monotonic() < deadline:
        time.sleep(0.02)
    if job["mode"] == "spill":
        print_spilled(con)
        return
    retry = RetryPolicy(max_attempts=30, base_delay=0.1, max_delay=1.0, max_total_seconds=120.0)
    for round_number, bill_cycle in enumerate(job["bill_cycles"], start=1):
        rows = partition_rows(partner, bill_cycle, job["lines"], round_number)

        def held(sql: str = rows["marts.expenditure"]) -> str:
            time.sleep(job["hold_seconds"])  # inside the transaction: the other writer's commit lands meanwhile
            return sql

        commit = lakehouse.replace_partition(
            con, lakehouse.Partition(partner, bill_cycle), {"core.bill_line": rows["core.bill_line"],
                                                            "marts.expenditure": held},
            run_id=f"{partner}-{bill_cycle}-{round_number}", retry=retry)
        print(json.dumps({"bill_cycle": bill_cycle, "snapshot_id": commit.snapshot_id,
                          "attempts": commit.attempts}), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
