"""Partner × month partitions: one process loads the definitions with two accounts of partners.toml and
no BILLRECON_PARTNER_ID (as a code location does), and runs both accounts' months, each run taking the
sources and paths of its partition's account. The partitions are read when the definitions load, so the
definitions are loaded in a child process with the partners file set."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from sandbox.world import generate_world
from sandbox.writer import write_world
from tests.integration.conftest import SMALL_WORLD
from tests.integration.test_partner_sources import CYCLE, P2_WORLD  # the accounts of the partners.toml test

PARTNER = """
[[partner]]
id = "{id}"
name = "Partner {id}"
site = "intl"
currency = "USD"

[partner.files]
inbox = "{inbox}"
"""

# the code location's view: its partitions and jobs, then a run of each account's month in this one process
RUN_BOTH = """
import json, sys
from pipelines.definitions import defs
from pipelines.runner import run_cycle
from pipelines.settings import resources_from_env

job = defs.resolve_job_def("month_close")
keys = job.partitions_def.get_partition_keys()
outcomes = {partner: run_cycle(sys.argv[1], resources_from_env(), partner_id=partner) for partner in ("p1", "p2")}
print(json.dumps({"keys": [keys[0], keys[1], keys[-1]], "count": len(keys),
                  "outcomes": {partner: [run.success, run.failure] for partner, run in outcomes.items()}}))
"""

# what the daemon would ask for: the bill-file sensor over each account's inbox, and one night's schedule
REQUESTS = """
import datetime as dt, json
from zoneinfo import ZoneInfo
import dagster as dg
from pipelines.definitions import defs
from pipelines.settings import resources_from_env

sensor = defs.resolve_sensor_def("bill_file_sensor")
with dg.build_sensor_context(resources={"object_store": resources_from_env()["object_store"]}) as context:
    sensed = sorted([r.partition_key, r.run_key.split("@")[0]] for r in sensor(context))
night = dt.datetime(2026, 10, 2, 2, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
schedule = defs.resolve_schedule_def("nightly_schedule")
nightly = [[r.partition_key, r.run_key] for r in schedule(dg.build_schedule_context(scheduled_execution_time=night))]
print(json.dumps({"sensed": sensed, "nightly": nightly}))
"""


@pytest.fixture(scope="module")
def worlds():
    return {"p1": generate_world(SMALL_WORLD), "p2": generate_world(P2_WORLD)}


@pytest.fixture(scope="module")
def partners_env(worlds, tmp_path_factory) -> dict[str, str]:
    """Each account's files in its own inbox folder, a partners.toml naming both, no account chosen."""
    root = tmp_path_factory.mktemp("partners")
    entries = []
    for partner, world in worlds.items():
        write_world(world, root / f"inbox-{partner}")
        entries.append(PARTNER.format(id=partner, inbox=root / f"inbox-{partner}"))
    (root / "partners.toml").write_text("".join(entries), encoding="utf-8")
    env = {name: value for name, value in os.environ.items() if not name.startswith("BILLRECON_")}
    return {**env, "BILLRECON_PARTNERS_FILE": str(root / "partners.toml")}


def expenditure(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute("select sum(amount_due), count(distinct customer_id) "
                           "from marts.customer_monthly_expenditure where bill_cycle = ?", [CYCLE]).fetchone()
    finally:
        con.close()


def test_one_process_runs_two_accounts_months_each_into_its_own_working_file(tmp_path, worlds, partners_env):
    done = subprocess.run([sys.executable, "-c", RUN_BOTH, CYCLE], cwd=tmp_path, env=partners_env,
                          capture_output=True, text=True, timeout=900)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    # partner × month: every bill cycle of each account (Dagster writes the key month first)
    assert seen["keys"][:2] == ["2024-01|p1", "2024-01|p2"] and seen["keys"][2].endswith("|p2")
    assert seen["count"] % 2 == 0
    assert seen["outcomes"] == {"p1": [True, None], "p2": [True, None]}
    # each account's marts hold its own month's totals and customers, never the other's
    for partner, world in worlds.items():
        lines = world.bill_lines[CYCLE]
        spent = lines.filter(lines["bill_type"] == "Expenditure")["amount_due"]  # the mart's amount_due: spending
        expected = (sum(Decimal(str(amount)) for amount in spent), lines["customer_id"].n_unique())
        assert expenditure(tmp_path / "warehouse" / partner / "billrecon.duckdb") == expected, partner
        assert (tmp_path / "reports" / "out" / partner / CYCLE / f"month_close_{CYCLE}.html").is_file()
        # the account's currency of partners.toml, which the FOCUS exports fall back to without the API
        con = duckdb.connect(str(tmp_path / "warehouse" / partner / "billrecon.duckdb"), read_only=True)
        assert con.execute("select currency from core.focus_account_currency").fetchall() == [("USD",)]
        con.close()
    assert expenditure(tmp_path / "warehouse" / "p1" / "billrecon.duckdb") != expenditure(
        tmp_path / "warehouse" / "p2" / "billrecon.duckdb")
    assert not (tmp_path / "warehouse" / "billrecon.duckdb").exists()


def test_the_sensor_closes_each_accounts_months_and_the_night_refreshes_every_account(tmp_path, partners_env):
    done = subprocess.run([sys.executable, "-c", REQUESTS], cwd=tmp_path, env=partners_env, capture_output=True,
                          text=True, timeout=300)

    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    # each account's own bill files, from its own inbox, closed as its own partitions; the run key names the
    # account, so the same key delivered to two accounts starts two closes
    assert seen["sensed"] == [[f"{month}|{partner}", f"{partner}:customerBill/customerBill_{month.replace('-', '')}"
                                                      ".tar.gz"]
                              for month in ("2026-08", "2026-09") for partner in ("p1", "p2")]
    assert seen["nightly"] == [["2026-10|p1", "nightly-2026-10-02-p1"], ["2026-10|p2", "nightly-2026-10-02-p2"]]
