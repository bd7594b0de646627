"""The test PostgreSQL server (sandbox/postgres.py): a real server on 127.0.0.1 in a temporary folder,
run by an unprivileged user when the tests run as root, with the machine's or the pgserver wheel's binaries."""

import os
import re
import socket
import subprocess
import tempfile

import psutil
import pytest

from sandbox.postgres import BIN_VARIABLE, LocalPostgresServer, PostgresUnavailable, bundled_bin_dirs, find_bin_dir


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def server_users(data_dir) -> set[str]:
    return {process.username() for process in psutil.process_iter(["cmdline"])
            if process.info["cmdline"] and str(data_dir) in " ".join(process.info["cmdline"])}


# the pgserver wheel exists up to Python 3.12 (requirements-test.lock installs it there)
@pytest.mark.parametrize("binaries", ["found", *(["pgserver wheel"] if bundled_bin_dirs() else [])])
def test_a_server_starts_on_loopback_answers_sql_and_leaves_nothing_behind(binaries):
    bin_dir = find_bin_dir() if binaries == "found" else bundled_bin_dirs()[0]
    server = LocalPostgresServer(bin_dir=bin_dir).start()
    try:
        data_dir = server.data_dir
        conninfo = server.create_database("billrecon_lake")
        assert conninfo == f"host=127.0.0.1 port={server.port} user=postgres dbname=billrecon_lake"
        server.psql("create table t (amount numeric(20,8)); insert into t values (1.25), (2.5)", "billrecon_lake")
        assert server.psql("select sum(amount) from t", "billrecon_lake").strip() == "3.75000000"
        assert server.psql("show listen_addresses").strip() == "127.0.0.1"
        if os.geteuid() == 0:  # PostgreSQL refuses root: the cluster runs as nobody
            assert server_users(data_dir) == {"nobody"}
            assert data_dir.stat().st_uid != 0
    finally:
        server.stop()
    assert not port_open(int(conninfo.split("port=")[1].split()[0]))
    assert not data_dir.exists() and not server_users(data_dir)


@pytest.mark.parametrize("binaries", ["found", *(["pgserver wheel"] if bundled_bin_dirs() else [])])
def test_binaries_under_a_root_only_folder_are_copied_where_the_server_user_can_run_them(binaries, tmp_path):
    # a checkout (and its .venv) under `mktemp -d`: root may enter the folder, the server's user may not
    installed = find_bin_dir() if binaries == "found" else bundled_bin_dirs()[0]
    private = tmp_path / "private"
    private.mkdir(mode=0o700)
    (private / "packages").symlink_to(installed.parents[2])
    bin_dir = private / "packages" / installed.relative_to(installed.parents[2])
    server = LocalPostgresServer(bin_dir=bin_dir).start()
    try:
        root = server.data_dir.parent
        assert server.psql("select 1.25 + 2.5").strip() == "3.75"
        if os.geteuid() == 0:  # the cluster runs as nobody, from a copy inside its own folder
            assert server_users(server.data_dir) == {"nobody"}
            assert server.bin_dir == root / "postgresql" / installed.relative_to(installed.parents[2])
        else:
            assert server.bin_dir == bin_dir
    finally:
        server.stop()
    assert not root.exists()


def test_a_cluster_folder_the_server_user_cannot_enter_is_one_line_saying_what_to_do(kept_postgres_parent,
                                                                                  monkeypatch):
    private = kept_postgres_parent / "private"  # in a folder every user may enter
    private.mkdir(mode=0o700)
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # as TMPDIR=<private> would
    if os.geteuid() != 0:  # a server of one's own user enters one's own folders
        with LocalPostgresServer() as server:
            assert server.psql("select 1").strip() == "1"
        return
    with pytest.raises(PostgresUnavailable) as raised:
        LocalPostgresServer().start()
    assert re.fullmatch(
        f"PostgreSQL runs as 'nobody' when started by root, and 'nobody' cannot enter {re.escape(str(private))} "
        f"\\(mode 700\\) on the way to the cluster folder {re.escape(str(private))}/billrecon-postgres-\\w+: "
        "set TMPDIR to a folder every user may enter, such as /tmp", str(raised.value))
    assert list(private.iterdir()) == []  # the folder it made is removed again


def test_binaries_named_by_the_setting_must_be_there(tmp_path, monkeypatch):
    monkeypatch.setenv(BIN_VARIABLE, str(tmp_path))
    with pytest.raises(PostgresUnavailable) as raised:
        find_bin_dir()
    assert str(raised.value) == (
        f"no PostgreSQL binaries (initdb, pg_ctl, postgres, psql) in {BIN_VARIABLE}={tmp_path}: install the pinned "
        f"pgserver wheel (requirements-test.lock) or the machine's postgresql package, or set {BIN_VARIABLE} to their folder")


def test_the_session_fixture_gives_each_test_its_own_database(postgres_server, postgres_database):
    name = postgres_database.split("dbname=")[1]
    assert name.startswith("t_test_the_session_fixture_gives_each_test_")
    assert postgres_server.psql("select current_database()", name).strip() == name


def test_a_kept_folder_outlives_the_server_and_its_lines_start_and_stop_it_again(kept_postgres_parent):
    server = LocalPostgresServer(folder=kept_postgres_parent / "postgres").start()
    try:
        conninfo = server.create_database("billrecon_lake")
        server.psql("create table t (amount numeric(20,8)); insert into t values (1.25)", "billrecon_lake")
        start, stop = server.start_line(), server.stop_line()
    finally:
        server.stop()
    port = int(conninfo.split("port=")[1].split()[0])
    assert not port_open(port) and (kept_postgres_parent / "postgres" / "data" / "PG_VERSION").is_file()

    subprocess.run(start, shell=True, check=True, capture_output=True)
    try:
        summed = subprocess.run([str(server.bin_dir / "psql"), "-X", "-A", "-t", "-d", conninfo, "-c",
                                 "select sum(amount) from t"], capture_output=True, text=True, check=True)
        assert summed.stdout.strip() == "1.25000000"  # the same cluster, on the same port
    finally:
        subprocess.run(stop, shell=True, check=True, capture_output=True)
    assert not port_open(port) and not server_users(kept_postgres_parent / "postgres" / "data")
