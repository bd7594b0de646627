"""The snapshot published for analysts is never written by a command: `billrecon run`, `accept` and
`report` given it as their warehouse refuse it before anything runs (one line naming the working file,
exit 2), and its bytes and its folder stay as they were; `billrecon export` reads it."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipelines.lib.publish import publish
from tests.integration.test_run_errors import MONTH, one_line

SNAPSHOT = "wh/published/billrecon.duckdb"
REFUSED = ("billrecon: {snapshot} is the read-only snapshot published for analysts, not the working warehouse: "
           "give --warehouse wh/billrecon.duckdb (BILLRECON_WAREHOUSE) instead (the snapshot is replaced by each run)")


def billrecon(workdir: Path, *arguments: str, **settings: str) -> tuple[int, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("BILLRECON_")}
    env.update(PYTHONUNBUFFERED="1", TMPDIR=str(workdir), **settings)
    completed = subprocess.run([sys.executable, "-m", "billrecon.cli", *arguments], cwd=workdir, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    return completed.returncode, completed.stdout


@pytest.fixture(scope="module")
def closed(tmp_path_factory, world_dir) -> Path:
    """A folder where `billrecon run` closed the first month: wh/billrecon.duckdb and its snapshot."""
    workdir = tmp_path_factory.mktemp("published")
    code, output = billrecon(workdir, "run", "--month", MONTH, "--inbox", str(world_dir), "--warehouse",
                             "wh/billrecon.duckdb", "--reports", "reports")
    assert code == 0, output
    assert (workdir / SNAPSHOT).is_file()
    return workdir


def state(workdir: Path) -> tuple[dict[str, str], list[str]]:
    """The sha256 of every warehouse file (working and published), and every path under the folder."""
    digests = {str(path.relative_to(workdir)): hashlib.sha256(path.read_bytes()).hexdigest()
               for path in workdir.rglob("*.duckdb")}
    return digests, sorted(str(path.relative_to(workdir)) for path in workdir.rglob("*"))


COMMANDS = {
    "run": ["run", "--month", MONTH, "--inbox", "{world}", "--warehouse", "{snapshot}", "--reports", "reports"],
    "accept": ["accept", "--key", "customerBill/customerBill_202610.tar.gz", "--warehouse", "{snapshot}"],
    "report": ["report", "--month", MONTH, "--warehouse", "{snapshot}", "--reports", "reports"],
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_a_command_that_writes_refuses_the_snapshot_in_one_line_and_changes_nothing(closed, world_dir, command):
    before = state(closed)
    arguments = [part.format(world=world_dir, snapshot=SNAPSHOT) for part in COMMANDS[command]]
    code, output = billrecon(closed, *arguments)
    assert (code, one_line(output)) == (2, REFUSED.format(snapshot=SNAPSHOT))
    assert state(closed) == before  # no .lease, no logs/, no published/published/ or published/landing/


def test_the_snapshot_named_by_the_environment_is_refused_too(closed):
    before = state(closed)
    code, output = billrecon(closed, "accept", "--key", "customerBill/customerBill_202610.tar.gz",
                             BILLRECON_WAREHOUSE=SNAPSHOT)
    assert (code, one_line(output)) == (2, REFUSED.format(snapshot=SNAPSHOT))
    assert state(closed) == before


def test_a_snapshot_published_anywhere_is_known_by_its_marker(closed, tmp_path):
    """Published outside a published/ folder (BILLRECON_PUBLISHED_WAREHOUSE), and the command run
    without that setting: only the marker in the file tells."""
    snapshot = tmp_path / "analysts" / "billrecon.duckdb"
    assert publish(closed / "wh" / "billrecon.duckdb", snapshot)
    before = state(tmp_path), state(closed)
    code, output = billrecon(closed, "report", "--month", MONTH, "--warehouse", str(snapshot), "--reports", "reports")
    assert (code, one_line(output)) == (2, REFUSED.format(snapshot=snapshot))
    assert (state(tmp_path), state(closed)) == before


def test_the_working_file_configured_as_its_own_snapshot_is_refused(closed, world_dir):
    before = state(closed)
    code, output = billrecon(closed, "run", "--month", MONTH, "--inbox", str(world_dir), "--reports", "reports",
                             BILLRECON_WAREHOUSE="wh/billrecon.duckdb", BILLRECON_PUBLISHED_WAREHOUSE="wh/billrecon.duckdb")
    assert (code, one_line(output)) == (
        2, "billrecon: wh/billrecon.duckdb is both the working warehouse and the read-only snapshot published for "
           "analysts (BILLRECON_PUBLISHED_WAREHOUSE), which must be two files: give --warehouse (BILLRECON_WAREHOUSE) "
           "the working file, or unset BILLRECON_PUBLISHED_WAREHOUSE to publish to wh/published/billrecon.duckdb")
    assert state(closed) == before


def test_export_reads_the_snapshot(closed, tmp_path):
    before = state(closed)
    out = tmp_path / "partner.csv"
    code, output = billrecon(closed, "export", "focus", "--month", MONTH, "--view", "partner", "--out", str(out),
                             "--warehouse", SNAPSHOT)
    assert code == 0, output
    assert output.startswith(f"{out}: ") and out.stat().st_size > 0
    assert state(closed) == before
