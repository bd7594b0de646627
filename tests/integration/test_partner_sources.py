"""The sources of partners.toml are applied: a `billrecon run` of an account reads that account's folder
(prefix) of a shared bucket with the keys of the variables it names, and its own BSS API, whatever the
BILLRECON_* source settings say. Two accounts' files lie under two prefixes of one moto bucket."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from pipelines.lib import lakehouse
from pipelines.lib.lake_publish import ACCOUNTS_SIDE_BY_SIDE
from reports.month_close_data import load_month_close_data
from reports.reconciliation import load_reconciliation_data
from reports.verdict import month_close_verdict
from sandbox.bss import BssEmulator
from sandbox.objectstore import make_s3_client, upload_tree
from sandbox.world import generate_world
from sandbox.writer import write_world
from tests.integration.conftest import SMALL_WORLD

CYCLE = "2026-09"  # a closed month of the small world
BUCKET = "shared-partner-bills"
P2_WORLD = replace(SMALL_WORLD, seed=12, customers=9)

PARTNERS = """
[[partner]]
id = "p1"
name = "Partner one"
site = "intl"
currency = "USD"

[partner.files]
bucket = "{bucket}"
prefix = "p1/"
endpoint = "{s3}"
access_key_env = "P1_OBS_AK"
secret_key_env = "P1_OBS_SK"

[partner.bss]
endpoint = "{bss}"
access_key_env = "P1_BSS_AK"
secret_key_env = "P1_BSS_SK"
domain_id = "{domain_id}"

[[partner]]
id = "p2"
name = "Partner two"
site = "intl"
currency = "USD"

[partner.files]
bucket = "{bucket}"
prefix = "p2"
endpoint = "{s3}"
access_key_env = "P2_OBS_AK"
secret_key_env = "P2_OBS_SK"
"""


@pytest.fixture(scope="module")
def worlds():
    return {"p1": generate_world(SMALL_WORLD), "p2": generate_world(P2_WORLD)}


@pytest.fixture(scope="module")
def p1_bss(worlds):
    with BssEmulator(worlds["p1"], throttle=False) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def partners_env(worlds, p1_bss, s3_server, tmp_path_factory) -> dict[str, str]:
    """Both accounts' files under their prefixes of one bucket, a partners.toml naming them, and the
    environment of a run: the keys in the variables the file names; BILLRECON_* sources that point
    elsewhere (an empty inbox, another bucket), which a run of an account must not read."""
    client = make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key)
    for partner, world in worlds.items():
        folder = tmp_path_factory.mktemp(partner)
        write_world(world, folder)
        upload_tree(client, BUCKET, folder, prefix=f"{partner}/")
    root = tmp_path_factory.mktemp("partners")
    (root / "partners.toml").write_text(PARTNERS.format(bucket=BUCKET, s3=s3_server.endpoint_url,
                                                        bss=p1_bss.endpoint_url, domain_id=p1_bss.domain_id))
    (root / "empty-inbox").mkdir()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("BILLRECON_") and not name.startswith(("P1_", "P2_"))}
    return {**env, "PYTHONUNBUFFERED": "1", "BILLRECON_PARTNERS_FILE": str(root / "partners.toml"),
            "BILLRECON_INBOX_DIR": str(root / "empty-inbox"), "BILLRECON_S3_BUCKET": "not-this-bucket",
            "P1_OBS_AK": s3_server.access_key, "P1_OBS_SK": s3_server.secret_key,
            "P2_OBS_AK": s3_server.access_key, "P2_OBS_SK": s3_server.secret_key,
            "P1_BSS_AK": p1_bss.access_key, "P1_BSS_SK": p1_bss.secret_key}


def billrecon_run(workdir: Path, env: dict[str, str], *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "billrecon.cli", "run", "--month", CYCLE, *options],
                          cwd=workdir, env=env, capture_output=True, text=True, timeout=900)


def month_facts(path: Path) -> tuple:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(
            """select (select sum(rows_read) from audit.loads where source = 'customerBill' and bill_cycle = $cycle),
                      (select count(distinct customer_id) from marts.customer_monthly_expenditure
                       where bill_cycle = $cycle),
                      (select count(*) from marts.partner_bill_tieout where bill_cycle = $cycle),
                      (select count(*) from audit.loads where object_key like 'p_/%')""",
            {"cycle": CYCLE}).fetchone()
    finally:
        con.close()


def test_every_account_runs_as_its_own_process_from_its_own_prefix_and_bss_api(tmp_path, worlds, partners_env):
    done = billrecon_run(tmp_path, partners_env, "--parallel", "2")

    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"{CYCLE}: 2 account(s), up to 2 at once"
    assert sorted(lines[1:3]) == ["p1: done (exit 0)", "p2: done (exit 0)"]
    assert lines[3:] == [f"{CYCLE}: 2 account(s): 2 done; exit 0"]
    # each account in its own working file: every bill line of its own month, its own customers; keys
    # as in the usual layout (relative to the prefix); p1's BSS API, signed with the keys of
    # P1_BSS_AK/SK, ties its bill out, p2 has none
    facts = {partner: month_facts(tmp_path / "warehouse" / partner / "billrecon.duckdb") for partner in worlds}
    bill_lines = {partner: world.bill_lines[CYCLE].height for partner, world in worlds.items()}
    assert bill_lines["p1"] != bill_lines["p2"]
    assert facts == {"p1": (bill_lines["p1"], SMALL_WORLD.customers, 4, 0),
                     "p2": (bill_lines["p2"], P2_WORLD.customers, 0, 0)}
    for partner, name in (("p1", "Partner one"), ("p2", "Partner two")):  # its own reports, naming the account
        html = (tmp_path / "reports" / "out" / partner / CYCLE / f"month_close_{CYCLE}.html").read_text(encoding="utf-8")
        assert f'<div class="meta" data-figure="partner_account">Partner account {name} ({partner})</div>' in html
    assert not (tmp_path / "warehouse" / "billrecon.duckdb").exists()


def test_a_request_that_cannot_work_is_one_line_and_exit_2(tmp_path, partners_env):
    file = partners_env["BILLRECON_PARTNERS_FILE"]
    unset = {name: value for name, value in partners_env.items() if not name.startswith("P2_OBS")}

    # one account, in this process (BILLRECON_PARTNER_ID): its key variables unset
    refused = billrecon_run(tmp_path, {**unset, "BILLRECON_PARTNER_ID": "p2"})
    assert (refused.returncode, refused.stdout, refused.stderr) == (
        2, "", f"billrecon: account p2 names P2_OBS_AK, P2_OBS_SK in {file} for its keys, but they are not set: set "
               "them in the environment of the run\n")
    # the same as a child: its line, then the summary, and its exit status
    child = billrecon_run(tmp_path, unset, "--partner", "p2")
    assert (child.returncode, child.stdout.splitlines()) == (2, [
        f"{CYCLE}: 1 account(s), up to {os.cpu_count()} at once",
        f"p2: refused (exit 2): account p2 names P2_OBS_AK, P2_OBS_SK in {file} for its keys, but they are not set: "
        "set them in the environment of the run",
        f"{CYCLE}: 1 account(s): 1 refused; exit 2"])

    for options, env, line in (
            (("--partner", "p3"), partners_env,
             f"--partner p3 is not an account of {file} (p1, p2): give one of those ids, or leave --partner out to "
             "run them all"),
            (("--inbox", str(tmp_path)), partners_env,
             "--inbox cannot be used with BILLRECON_PARTNERS_FILE: each account's file source is its "
             "[partner.files] in that file"),
            ((), {**partners_env, "BILLRECON_PARTNER_ID": "p3"},
             f"BILLRECON_PARTNER_ID='p3' is not in {file} (p1, p2): set BILLRECON_PARTNER_ID to the account this "
             "run is for"),
            ((), {**partners_env, "BILLRECON_MAX_PARALLEL_RUNS": "many"},
             "BILLRECON_MAX_PARALLEL_RUNS='many' is not a whole number of at least 1"),
            (("--partner", "p1"), {k: v for k, v in partners_env.items() if k != "BILLRECON_PARTNERS_FILE"},
             "--partner and --parallel choose accounts of partners.toml: set BILLRECON_PARTNERS_FILE to it")):
        done = billrecon_run(tmp_path, env, *options)
        assert (done.returncode, done.stdout, done.stderr) == (2, "", f"billrecon: {line}\n"), options
    assert not (tmp_path / "warehouse").exists()  # nothing ran


def test_into_a_lake_each_account_has_its_row_and_the_accounts_read_side_by_side(tmp_path, worlds, partners_env,
                                                                                postgres_database):
    lake = {"BILLRECON_WAREHOUSE": lakehouse.LAKE_PREFIX + postgres_database,
            "BILLRECON_LAKE_DATA_PATH": str(tmp_path / "lake") + "/"}

    done = billrecon_run(tmp_path, {**partners_env, **lake}, "--parallel", "2")

    assert done.returncode == 0, done.stdout + done.stderr
    expected = []
    for partner in ("p1", "p2"):  # what each account's working file holds of the month, and its pack's verdict
        con = duckdb.connect(str(tmp_path / "warehouse" / partner / "billrecon.duckdb"), read_only=True)
        try:
            verdict = month_close_verdict(load_month_close_data(con, CYCLE),
                                          load_reconciliation_data(con, CYCLE, partner == "p1"))
            sums = con.execute("select sum(amount_due), sum(customer_charge_amount), sum(margin_amount) "
                               "from marts.customer_monthly_expenditure where bill_cycle = $cycle",
                               {"cycle": CYCLE}).fetchone()
            (findings,), = con.execute("select count(*) from marts.reconciliation_findings where bill_cycle = $cycle",
                                       {"cycle": CYCLE}).fetchall()
        finally:
            con.close()
        expected.append(("USD", partner, f"Partner {'one' if partner == 'p1' else 'two'}", "intl", CYCLE,
                         verdict.level, *sums, findings))
    con = lakehouse.connect(lakehouse.LakeSettings.from_env(lake), read_only=True)
    try:
        con.execute(f"use {lakehouse.ALIAS}")
        side_by_side = con.execute(ACCOUNTS_SIDE_BY_SIDE).fetchall()
    finally:
        con.close()
    assert side_by_side == expected
    assert expected[0][6] > 0 and expected[0][6] != expected[1][6]  # two months with content, each its own


def test_an_accounts_run_refused_for_an_option_names_the_option_it_was_given(tmp_path, partners_env):
    blocker = tmp_path / "reports-here"
    blocker.write_text("a file where the reports folder would be", encoding="utf-8")
    child = billrecon_run(tmp_path, partners_env, "--partner", "p2", "--reports", str(blocker))
    # the option's value reaches the account's run in BILLRECON_REPORTS_DIR as well; the line names the option
    assert (child.returncode, child.stdout.splitlines()) == (2, [
        f"{CYCLE}: 1 account(s), up to {os.cpu_count()} at once",
        f"p2: refused (exit 2): --reports {blocker / 'p2'} cannot be created: {blocker} is a file, not a folder: "
        "give the path of a folder (it is created when missing)",
        f"{CYCLE}: 1 account(s): 1 refused; exit 2"])
    assert blocker.read_text(encoding="utf-8") == "a file where the reports folder would be"
