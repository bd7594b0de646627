"""Real parts for integration tests: a moto S3 server on 127.0.0.1 reached over HTTP, generated
worlds written as files, DuckDB warehouse files in temporary folders."""

from pathlib import Path

import pytest

from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from sandbox.objectstore import LocalS3Server, make_s3_client, upload_tree
from sandbox.world import WorldConfig, generate_world
from sandbox.writer import write_world

SMALL_WORLD = WorldConfig(seed=11, customers=14, resellers=2, closed_months=2, lines_per_month=1800,
                          first_month="2026-08", member_rows=700, usage_export_days=3)


@pytest.fixture(scope="session")
def s3_server():
    with LocalS3Server() as server:
        yield server


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    write_world(generate_world(SMALL_WORLD), root)
    return root


@pytest.fixture
def bucket(s3_server, world_dir, request) -> str:
    """A fresh bucket per test holding the small world."""
    name = "t-" + request.node.name.lower().replace("_", "-")[:50]
    upload_tree(make_s3_client(s3_server.endpoint_url, s3_server.access_key, s3_server.secret_key), name, world_dir)
    return name


def pipeline_resources(tmp_path: Path, *, s3=None, bucket: str | None = None, inbox: Path | None = None) -> dict:
    if inbox is not None:
        store = ObjectStoreResource(inbox_dir=str(inbox))
    else:
        store = ObjectStoreResource(endpoint_url=s3.endpoint_url, bucket=bucket, access_key=s3.access_key,
                                    secret_key=s3.secret_key)
    return {
        "object_store": store,
        "warehouse": WarehouseResource(path=str(tmp_path / "wh" / "billrecon.duckdb")),
        "reports": ReportsResource(out_dir=str(tmp_path / "reports")),
        "bss_api": BssApiResource(),
    }
