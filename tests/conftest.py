"""Fixtures every test folder may use: a real PostgreSQL server on 127.0.0.1 (sandbox/postgres.py),
started once per session, and a fresh database in it per test."""

import os
import re
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest

from sandbox.postgres import LocalPostgresServer

INTEGRATION = Path(__file__).parent / "integration"


def pytest_collection_modifyitems(config, items):
    """Every integration test runs the real parts (S3 server, BSS emulator, the pipeline): slow."""
    for item in items:
        if INTEGRATION in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _environment_restored():
    """`billrecon run` writes its options into the environment (its Dagster resources read them there):
    each test leaves the environment as it found it, whatever the commands it ran wrote. monkeypatch
    alone restores only what it changed itself, not a variable it found unset and the code then set."""
    saved = dict(os.environ)
    yield
    if os.environ != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def postgres_server():
    with LocalPostgresServer() as server:
        yield server


@pytest.fixture
def postgres_database(postgres_server, request) -> str:
    """The libpq connection string of a new, empty database for this test."""
    name = "t_" + re.sub(r"\W+", "_", request.node.name.lower())[:40] + "_" + uuid.uuid4().hex[:8]
    return postgres_server.create_database(name)


@pytest.fixture
def kept_postgres_parent():
    """A temporary folder for a kept PostgreSQL cluster: as root, the cluster's user (nobody) must reach
    it, and pytest's own temporary folders are root-only."""
    folder = Path(tempfile.mkdtemp(prefix="billrecon-test-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)
