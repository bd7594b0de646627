"""The local S3 server over real HTTP: upload a written world, list it back, compare keys and bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from sandbox import LocalS3Server, WorldConfig, generate_world, make_s3_client, upload_tree, write_world

BUCKET = "partner-bills"


@pytest.fixture(scope="module")
def server():
    with LocalS3Server() as running:
        yield running


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("world")
    write_world(generate_world(WorldConfig(lines_per_month=500, closed_months=2, usage_export_days=2,
                                           member_rows=200)), out)
    return out


def local_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_server_listens_on_localhost(server):
    assert server.endpoint_url.startswith("http://127.0.0.1:")
    assert int(server.endpoint_url.rsplit(":", 1)[1]) > 0


def test_upload_list_and_download_round_trip(server, world_dir):
    client = make_s3_client(server.endpoint_url, server.access_key, server.secret_key)
    keys = upload_tree(client, BUCKET, world_dir)
    files = local_files(world_dir)
    assert keys == sorted(files)
    assert any(k.startswith("customerBill/") for k in keys) and any(k.startswith("customerUsage/") for k in keys)

    listed = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, PaginationConfig={"PageSize": 3}):
        for item in page.get("Contents", []):
            listed[item["Key"]] = item
    assert set(listed) == set(files)
    for key, data in files.items():
        assert listed[key]["Size"] == len(data)
        assert listed[key]["ETag"].strip('"') == hashlib.md5(data).hexdigest(), key
        body = client.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert body == data, key


def test_upload_into_an_existing_bucket_replaces_objects(server, world_dir, tmp_path):
    client = server.client()
    bucket = "partner-bills-redelivery"
    first_keys = upload_tree(client, bucket, world_dir)
    changed = tmp_path / "agreements" / "customer_discounts.csv"
    changed.parent.mkdir(parents=True)
    changed.write_bytes(b"customer_id,service_type_code,resource_type_code,discount_rate,valid_from,valid_to\n")
    assert upload_tree(client, bucket, tmp_path) == ["agreements/customer_discounts.csv"]
    body = client.get_object(Bucket=bucket, Key="agreements/customer_discounts.csv")["Body"].read()
    assert body == changed.read_bytes()
    listed = client.list_objects_v2(Bucket=bucket)
    assert sorted(item["Key"] for item in listed["Contents"]) == first_keys


def test_client_uses_path_style_and_the_hong_kong_region(server):
    client = make_s3_client(server.endpoint_url, "any-ak", "any-sk")
    assert client.meta.region_name == "ap-southeast-1"
    assert client.meta.config.s3["addressing_style"] == "path"
    client.create_bucket(Bucket="path-style-check",
                         CreateBucketConfiguration={"LocationConstraint": "ap-southeast-1"})
    url = client.generate_presigned_url("get_object", Params={"Bucket": "path-style-check", "Key": "k"})
    assert url.startswith(f"{server.endpoint_url}/path-style-check/k")


def test_stopped_server_has_no_endpoint():
    local = LocalS3Server().start()
    assert local.endpoint_url
    local.stop()
    with pytest.raises(RuntimeError):
        _ = local.endpoint_url
