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


def billrecon_run(workdir: Path, env: dict[str, str], partner: str, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "billrecon.cli", "run", "--month", CYCLE,
                           "--warehouse", f"warehouse/{partner}/billrecon.duckdb", "--reports", f"reports/{partner}",
                           *options],
                          cwd=workdir, env={**env, "BILLRECON_PARTNER_ID": partner}, capture_output=True,
                          text=True, timeout=600)


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


def test_each_account_reads_its_own_prefix_of_one_bucket_and_its_own_bss_api(tmp_path, worlds, partners_env):
    runs = {partner: billrecon_run(tmp_path, partners_env, partner) for partner in ("p1", "p2")}

    for done in runs.values():
        assert done.returncode == 0, done.stdout + done.stderr
    facts = {partner: month_facts(tmp_path / "warehouse" / partner / "billrecon.duckdb") for partner in runs}
    lines = {partner: worlds[partner].bill_lines[CYCLE].height for partner in runs}
    assert lines["p1"] != lines["p2"]
    # every bill line of the account's own month, its own customers; keys as in the usual layout
    # (relative to the prefix); p1's BSS API, signed with the keys of P1_BSS_AK/SK, ties the bill out
    assert facts == {"p1": (lines["p1"], SMALL_WORLD.customers, 4, 0),
                     "p2": (lines["p2"], P2_WORLD.customers, 0, 0)}
    assert "note: its account has no [partner.bss] in partners.toml;" in runs["p2"].stdout
    assert "note:" not in runs["p1"].stdout


def test_an_account_whose_key_variables_are_unset_or_an_inbox_option_is_one_line_and_exit_2(tmp_path,
                                                                                            partners_env):
    unset = {name: value for name, value in partners_env.items() if not name.startswith("P2_OBS")}
    refused = billrecon_run(tmp_path, unset, "p2")
    assert (refused.returncode, refused.stdout) == (2, "")
    assert refused.stderr == (f"billrecon: account p2 names P2_OBS_AK, P2_OBS_SK in "
                              f"{partners_env['BILLRECON_PARTNERS_FILE']} for its keys, but they are not set: set "
                              "them in the environment of the run\n")

    inbox = billrecon_run(tmp_path, partners_env, "p1", "--inbox", str(tmp_path))
    assert (inbox.returncode, inbox.stderr) == (2, "billrecon: --inbox cannot be used with BILLRECON_PARTNERS_FILE: "
                                                   "each account's file source is its [partner.files] in that file\n")

    unknown = billrecon_run(tmp_path, partners_env, "p3")
    assert (unknown.returncode, unknown.stderr) == (
        2, f"billrecon: BILLRECON_PARTNER_ID='p3' is not in {partners_env['BILLRECON_PARTNERS_FILE']} (p1, p2): "
           "set BILLRECON_PARTNER_ID to the account this run is for\n")
    assert not (tmp_path / "warehouse").exists()  # nothing ran
