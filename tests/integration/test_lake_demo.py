"""`billrecon demo --lake`: two partner accounts' closed months in a DuckLake on a local PostgreSQL, run
through `billrecon run` over the accounts; afterwards nothing runs, and the kept PostgreSQL, started
again with the line the demo printed, serves the lake to the ATTACH line it printed."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from datetime import date

import duckdb
import polars as pl
import psutil

from pipelines.lib.duckdb_extensions import load_extensions
from sandbox.world import WorldConfig, generate_world

MONTHS = ["2026-08", "2026-09"]
SIZE = ["--customers", "6", "--resellers", "1", "--months", "2", "--lines", "500", "--first-month", MONTHS[0]]
# the worlds the demo generates with SIZE: acme-intl from the default seed 7, acme-cn from 8 with Chinese headers
WORLDS = {account: WorldConfig(seed=seed, customers=6, resellers=1, closed_months=2, lines_per_month=500,
                               first_month=MONTHS[0], header_language=language, anomalies=1,
                               usage_export_days=max(1, date.today().day - 1))
          for account, seed, language in (("acme-intl", 7, "en"), ("acme-cn", 8, "zh"))}


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def line_after(output: str, start: str) -> str:
    lines = output.splitlines()
    return next(lines[index + 1].strip() for index, line in enumerate(lines) if line.startswith(start))


def per_account_month(con: duckdb.DuckDBPyConnection, sql: str) -> dict[tuple[str, str], int]:
    return {(account, month): count for account, month, count in con.execute(sql).fetchall()}


def quarantined_bill_lines(working_file, month: str) -> int:
    con = duckdb.connect(str(working_file), read_only=True)
    try:
        (count,), = con.execute("select count(*) from audit.quarantine where source = 'customerBill' "
                                "and bill_cycle = ?", [month]).fetchall()
        return count
    finally:
        con.close()


def test_the_lake_demo_closes_both_accounts_into_the_lake_and_leaves_nothing_running(kept_postgres_parent):
    root = kept_postgres_parent / "demo-lake"
    env = {name: value for name, value in os.environ.items() if not name.startswith("BILLRECON_")}

    done = subprocess.run([sys.executable, "-m", "billrecon.cli", "demo", "--lake", str(root), *SIZE],
                          cwd=kept_postgres_parent, env=env, capture_output=True, text=True, timeout=1800)

    assert done.returncode == 0, done.stdout + done.stderr
    output = done.stdout
    assert ("currency CNY in partners.toml; the sandbox generates USD amounts only, so this account's figures are "
            "the sandbox's, labelled CNY") in output
    for month in MONTHS:  # each month run over both accounts at once
        assert f"      {month}: 2 account(s): 2 done; exit 0" in output
    # nothing left running: no process on the demo's folder, the servers' ports closed
    assert not [process.pid for process in psutil.process_iter(["cmdline"])
                if str(root) in " ".join(process.info["cmdline"] or [])]
    attach = line_after(output, "The lake, for analysts")
    postgres_port = int(re.search(r"port=(\d+)", attach).group(1))
    s3_port = int(re.search(r"local S3 server at http://127\.0\.0\.1:(\d+)", output).group(1))
    assert not port_open(postgres_port) and not port_open(s3_port)
    assert not (root / "postgres" / "data" / "postmaster.pid").exists()
    for account in WORLDS:
        for month in MONTHS:
            assert (root / "reports" / account / month / f"month_close_{month}.html").is_file()

    # the kept PostgreSQL, started again with the printed line, serves the lake to the printed ATTACH line
    subprocess.run(line_after(output, "PostgreSQL is stopped"), shell=True, check=True, capture_output=True)
    try:
        con = duckdb.connect()
        load_extensions(con, "ducklake", "postgres")
        con.execute(attach)
        loaded = per_account_month(con, "select partner_account_id, bill_cycle, sum(rows_loaded) "
                                        "from billrecon.audit.loads where source = 'customerBill' group by all")
        billed = per_account_month(con, "select partner_account_id, bill_cycle, count(*) "
                                        "from billrecon.marts.customer_bill_line group by all")
        accounts = con.execute("select partner_account_id, site, currency, last_published_cycle, close_status "
                               "from billrecon.marts.partner_account order by all").fetchall()
        con.close()
    finally:
        subprocess.run(line_after(output, "and stop it afterwards"), shell=True, check=True, capture_output=True)

    # every account's month: the world's generated lines less those its working file quarantined; the
    # customers' bills hold them but the adjustments, which stay between HUAWEI CLOUD and the partner
    expected_loaded, expected_billed = {}, {}
    for account, config in WORLDS.items():
        world = generate_world(config)
        for month in MONTHS:
            generated = world.bill_lines[month]
            dropped = quarantined_bill_lines(root / "warehouse" / account / "billrecon.duckdb", month)
            expected_loaded[account, month] = generated.height - dropped
            expected_billed[account, month] = generated.filter(pl.col("bill_type") != "Adjustment").height - dropped
    assert loaded == expected_loaded
    assert billed == expected_billed
    assert accounts == [("acme-cn", "cn", "CNY", MONTHS[-1], "not_ready"),
                        ("acme-intl", "intl", "USD", MONTHS[-1], "not_ready")]


def test_a_folder_the_demo_did_not_make_or_whose_postgres_runs_is_refused_and_left_as_it_is(tmp_path, capsys):
    from billrecon.cli import main

    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    assert main(["demo", "--lake", str(foreign)]) == 2
    assert capsys.readouterr().err == (
        f"billrecon: --lake {foreign} is not a folder made by `billrecon demo --lake`: give a new or empty folder (it "
        "is created), or remove that one\n")
    assert [path.name for path in foreign.iterdir()] == ["notes.txt"]

    running = tmp_path / "demo-lake"
    (running / "postgres" / "data").mkdir(parents=True)
    (running / ".billrecon-demo-lake").write_text("")
    (running / "postgres" / "data" / "postmaster.pid").write_text("4242\n")
    assert main(["demo", "--lake", str(running)]) == 2
    assert capsys.readouterr().err == (
        f"billrecon: the PostgreSQL of the last demo in {running / 'postgres'} is running: stop it with the `pg_ctl "
        "stop` line that demo printed, then run the demo again\n")
    assert (running / "postgres" / "data" / "postmaster.pid").read_text() == "4242\n"
