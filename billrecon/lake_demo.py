"""`billrecon demo --lake`: the demo with two partner accounts on a DuckLake, on this machine alone.

Everything lives in one folder (default `.demo-lake`, replaced by each demo): the two accounts' generated
worlds, a PostgreSQL cluster holding the lake's catalog (kept, so that the lake can be queried later),
the lake's Parquet files, `partners.toml`, each account's working file and reports. The accounts' files
lie under two prefixes of one bucket of the local S3 server, each account has its own BSS API emulator,
and every closed month runs through `billrecon run` over the accounts, as a partner would run it."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path

from billrecon.commands import RunFailed
from billrecon.refusals import UserError, check_folder, check_given
from schemas.memory import MEMORY_VARIABLE

BUCKET = "billrecon-demo"
LAKE_DATABASE = "billrecon_lake"
# a folder the demo made and may replace: it holds this file
MARKER = ".billrecon-demo-lake"


@dataclass(frozen=True)
class DemoAccount:
    id: str
    name: str
    site: str
    currency: str
    seed_offset: int  # the account's world is generated from --seed plus this

    def key_variables(self) -> dict[str, str]:
        """The variables partners.toml names for the account's keys, by the field of the template below."""
        prefix = self.id.upper().replace("-", "_")
        return {"files_ak": f"{prefix}_OBS_AK", "files_sk": f"{prefix}_OBS_SK",
                "bss_ak": f"{prefix}_BSS_AK", "bss_sk": f"{prefix}_BSS_SK"}


ACCOUNTS = (DemoAccount("acme-intl", "ACME Cloud (international)", "intl", "USD", 0),
            DemoAccount("acme-cn", "ACME Cloud (China)", "cn", "CNY", 1))

PARTNER_ENTRY = """[[partner]]
id = "{id}"
name = "{name}"
site = "{site}"
currency = "{currency}"

[partner.files]
bucket = "{bucket}"
prefix = "{id}/"
endpoint = "{s3}"
access_key_env = "{files_ak}"
secret_key_env = "{files_sk}"

[partner.bss]
endpoint = "{bss}"
access_key_env = "{bss_ak}"
secret_key_env = "{bss_sk}"
domain_id = "{domain_id}"
"""


def demo_lake(args) -> int:
    from sandbox.postgres import PostgresUnavailable, find_bin_dir

    started = time.monotonic()
    # "" would be the current folder, which the demo replaces
    check_given(args.lake, "--lake", "the path of a folder, or give --lake alone for .demo-lake")
    root = Path(args.lake)
    check_folder(root, "--lake")
    try:
        find_bin_dir()
    except PostgresUnavailable as exc:
        raise UserError(f"the demo on a DuckLake needs PostgreSQL: {exc}") from None
    _replace_folder(root)
    worlds = _generate_worlds(args, root)
    try:
        outcome = _close_months(root, worlds)
    except KeyboardInterrupt:
        print("billrecon: interrupted; the runs, PostgreSQL and the sandbox are stopped", file=sys.stderr)
        return 130
    _print_outcome(root, outcome)
    print(f"done in {time.monotonic() - started:.0f} s")
    return 0


def _replace_folder(root: Path) -> None:
    """Empty `root` for a new demo, refusing a folder the demo did not make or whose PostgreSQL was
    started again and still runs."""
    if root.exists() and not (root / MARKER).exists() and (not root.is_dir() or any(root.iterdir())):
        raise UserError(f"--lake {root} is not a folder made by `billrecon demo --lake`: give a new or empty folder "
                        "(it is created), or remove that one")
    if (root / "postgres" / "data" / "postmaster.pid").exists():
        raise UserError(f"the PostgreSQL of the last demo in {root / 'postgres'} is running: stop it with the "
                        "`pg_ctl stop` line that demo printed, then run the demo again")
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    (root / MARKER).write_text("made by `billrecon demo --lake`, which replaces this folder\n")


def _generate_worlds(args, root: Path) -> dict:
    from billrecon.sandbox_commands import world_config
    from pipelines.lib.partners import SITES
    from sandbox.world import generate_world
    from sandbox.writer import write_world

    base = world_config(args)
    print(f"[1/4] generating {len(ACCOUNTS)} partner worlds ({base.customers} customers each, {base.closed_months} "
          f"closed months from {base.first_month}, ~{base.lines_per_month} lines/month)")
    worlds = {}
    for account in ACCOUNTS:
        config = replace(base, seed=base.seed + account.seed_offset,
                         header_language=SITES[account.site].header_language)
        worlds[account.id] = world = generate_world(config)
        folder = root / "worlds" / account.id
        written = write_world(world, folder)
        headers = {"en": "English", "zh": "Chinese"}[config.header_language]
        print(f"      {account.id}: seed {config.seed}, site {account.site}, {headers} headers, "
              f"{len(written)} files under {folder}")
        if config.anomalies:
            print(f"      {' ' * len(account.id)}  {len(world.planted)} anomalies planted on purpose "
                  f"(--anomalies 0 for a clean world), listed in {folder / 'ground_truth.json'}")
        if account.currency != "USD":
            print(f"      {' ' * len(account.id)}  currency {account.currency} in partners.toml; the sandbox generates "
                  f"USD amounts only, so this account's figures are the sandbox's, labelled {account.currency}, and "
                  "its BSS API says USD: each of its months is not ready to close (API.CURRENCY)")
    return worlds


@dataclass(frozen=True)
class DemoOutcome:
    months: list[str]
    side_by_side: list[tuple]
    attach: str
    start_postgres: str
    stop_postgres: str


def _close_months(root: Path, worlds: dict) -> DemoOutcome:
    from pipelines.lib import lakehouse
    from pipelines.lib.lake_publish import ACCOUNTS_SIDE_BY_SIDE
    from sandbox.bss import BssEmulator
    from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
    from sandbox.postgres import LocalPostgresServer, PostgresUnavailable

    with ExitStack() as servers:
        try:
            postgres = servers.enter_context(LocalPostgresServer(folder=root / "postgres"))
        except PostgresUnavailable as exc:
            line = f"PostgreSQL did not start in {root / 'postgres'}: {exc}".splitlines()[0]
            raise RunFailed(line, str(exc)) from None
        catalog = postgres.create_database(LAKE_DATABASE)
        s3 = servers.enter_context(LocalS3Server())
        client = make_s3_client(s3.endpoint_url, s3.access_key, s3.secret_key)
        print(f"[2/4] PostgreSQL at {postgres.host}:{postgres.port} (its folder {root / 'postgres'} is kept), "
              f"the lake's catalog in database {LAKE_DATABASE}, its files in {root / 'data'}")
        print(f"      local S3 server at {s3.endpoint_url}, bucket {BUCKET}:")
        keys, entries = {}, []
        for account in ACCOUNTS:
            world = worlds[account.id]
            world.api_data.prepare()  # the emulator answers from this; built now rather than on the first request
            bss = servers.enter_context(BssEmulator(world))
            uploaded = upload_tree(client, BUCKET, root / "worlds" / account.id, prefix=f"{account.id}/")
            print(f"      {account.id}: {len(uploaded)} objects under {account.id}/, BSS API emulator at "
                  f"{bss.endpoint_url}")
            entry, account_keys = partner_entry(account, BUCKET, s3, bss)
            entries.append(entry)
            keys.update(account_keys)
        partners_file = root / "partners.toml"
        partners_file.write_text("\n".join(entries), encoding="utf-8")
        env = run_environment(root, partners_file, lakehouse.LAKE_PREFIX + catalog, keys)
        months = list(worlds[ACCOUNTS[0].id].closed_months)
        print(f"[3/4] closing {len(months)} months of both accounts into the DuckLake: `billrecon run --month "
              f"YYYY-MM` over the accounts of {partners_file}, both at once")
        for month in months:
            _run_month(month, env)
        con = lakehouse.connect(lakehouse.LakeSettings.from_env(env), read_only=True)
        try:
            side_by_side = con.execute(ACCOUNTS_SIDE_BY_SIDE).fetchall()
        finally:
            con.close()
        outcome = DemoOutcome(months, side_by_side,
                              f"ATTACH '{lakehouse.LAKE_PREFIX}{catalog}' AS billrecon (READ_ONLY);",
                              postgres.start_line(), postgres.stop_line())
    print("[4/4] PostgreSQL and the sandbox stopped")
    return outcome


def partner_entry(account: DemoAccount, bucket: str, s3, bss) -> tuple[str, dict[str, str]]:
    """The account's [[partner]] entry of partners.toml (its files under `<id>/` of `bucket` on the S3
    server `s3`, its BSS API the emulator `bss`), and the keys to set in the variables it names."""
    names = account.key_variables()
    entry = PARTNER_ENTRY.format(id=account.id, name=account.name, site=account.site, currency=account.currency,
                                 bucket=bucket, s3=s3.endpoint_url, bss=bss.endpoint_url, domain_id=bss.domain_id,
                                 **names)
    return entry, {names["files_ak"]: s3.access_key, names["files_sk"]: s3.secret_key,
                   names["bss_ak"]: bss.access_key, names["bss_sk"]: bss.secret_key}


def run_environment(root: Path, partners_file: Path, warehouse: str, keys: dict[str, str]) -> dict[str, str]:
    """The environment of the demo's `billrecon run`: the demo's accounts, lake and folders, the keys in
    the variables partners.toml names; of the caller's BILLRECON_* settings only the memory budget, which
    is the machine's (the demo stands alone)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("BILLRECON_") or name == MEMORY_VARIABLE}
    return {**env, **keys, "PYTHONUNBUFFERED": "1",
            "BILLRECON_PARTNERS_FILE": str(partners_file),
            "BILLRECON_WAREHOUSE": warehouse,
            "BILLRECON_LAKE_DATA_PATH": f"{(root / 'data').resolve()}/",
            # each account's working file and reports go in its own folder below these (warehouse/<id>/…)
            "BILLRECON_WORKING_WAREHOUSE": str(root / "warehouse" / "billrecon.duckdb"),
            "BILLRECON_REPORTS_DIR": str(root / "reports")}


def _run_month(month: str, env: dict[str, str]) -> None:
    """`billrecon run --month` over the demo's accounts, its lines shown as they come. Its own session, so
    that on an interrupt or a failure here the run and the account runs it started are ended together."""
    command = [sys.executable, "-m", "billrecon.cli", "run", "--month", month, "--parallel", str(len(ACCOUNTS))]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               start_new_session=True)
    lines = []
    try:
        for line in process.stdout:
            lines.append(line.rstrip("\n"))
            print(f"      {lines[-1]}", flush=True)
        status = process.wait()
    finally:
        if process.poll() is None:
            _end_session(process)
    if status != 0:
        said = next((line for line in reversed(lines) if line.strip()), "(no output)")
        raise RunFailed(f"{month}: `billrecon run` over the accounts ended with exit {status} ({said}); each "
                        "account's line above names its log", "\n".join(lines))


def _end_session(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


_SIDE_BY_SIDE_HEADER = (f"{'currency':<9}{'account':<11}{'site':<6}{'month':<9}{'close status':<14}{'amount due':>16}"
                        f"{'customer charge':>18}{'margin':>14}{'findings':>10}")


def _print_outcome(root: Path, outcome: DemoOutcome) -> None:
    print()
    print("The accounts side by side (marts.partner_account, README: Scale out), each in its own currency:")
    print(_SIDE_BY_SIDE_HEADER)
    for currency, account, _name, site, month, status, due, charge, margin, findings in outcome.side_by_side:
        print(f"{currency:<9}{account:<11}{site:<6}{month:<9}{status:<14}{due:>16,.2f}{charge:>18,.2f}{margin:>14,.2f}"
              f"{findings:>10,}")
    print()
    print("Reports:")
    for account in ACCOUNTS:
        folder = root / "reports" / account.id
        print(f"  {account.id}: {folder}/<YYYY-MM>/ for {', '.join(outcome.months)}, e.g. "
              f"{folder / outcome.months[-1] / f'month_close_{outcome.months[-1]}.html'}")
    print(f"Working files: {root / 'warehouse'}/<account>/billrecon.duckdb")
    print()
    print("The lake, for analysts (DuckDB 1.5.5 with its ducklake and postgres extensions), while its PostgreSQL runs:")
    print(f"  {outcome.attach}")
    print(f"PostgreSQL is stopped; its folder {root / 'postgres'} is kept. Start it again to query the lake:")
    print(f"  {outcome.start_postgres}")
    print("and stop it afterwards (a new demo refuses to replace the folder while it runs):")
    print(f"  {outcome.stop_postgres}")
