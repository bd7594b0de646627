"""A bucket that answers but refuses the run (a bucket that is not there, keys it does not know, a secret
that does not match, keys without the permission) fails `billrecon run` in one line that names the
bucket, the endpoint and the settings to fix, exit 1, the trace in the log; nothing is landed and no
month changes, and the run with the right settings then works.

The answers are the real ones of the moto S3 server over HTTP. By default moto takes any keys; here it
checks them while a test runs (moto's `reset-auth`): every request must be signed with the access key and
secret of an IAM user of the server, and is allowed only what that user's policy allows."""

from __future__ import annotations

import hashlib
import json
import urllib.request
from pathlib import Path

import boto3
import duckdb
import pytest

from pipelines.lib.fingerprint import warehouse_fingerprint
from sandbox.objectstore import REGION, upload_tree
from tests.integration.test_run_errors import MONTH, S3_SETTINGS, billrecon, one_line, with_log

BUCKET = "bills-refusals"
# the objects a run of MONTH lands from the small world: its bill file and incentive statement, the
# agreements (it has no usage export of its own)
MONTH_KEYS = ["agreements/chart_of_accounts.csv", "agreements/customer_discounts.csv",
              "agreements/incentive_rates.csv", "customerBill/customerBill_202608.tar.gz",
              "incentives/incentive_statement_202608.csv"]
# what a user of the server may do; the run lists the bucket, then downloads each object
READER = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetObject"],
                                                  "Resource": "*"}]}
LISTER = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:ListBucket", "Resource": "*"}]}


@pytest.fixture(scope="module")
def bills(s3_server, world_dir) -> str:
    upload_tree(s3_server.client(), BUCKET, world_dir)
    return BUCKET


@pytest.fixture(scope="module")
def users(s3_server) -> dict[str, tuple[str, str]]:
    """{user: (access key id, secret)} of IAM users of the server: one that may read the bucket, one
    that may only list it, one that may do nothing."""
    iam = boto3.client("iam", endpoint_url=s3_server.endpoint_url, region_name=REGION,
                       aws_access_key_id=s3_server.access_key, aws_secret_access_key=s3_server.secret_key)
    keys = {}
    for user, policy in (("reader", READER), ("lister", LISTER), ("nobody", None)):
        name = f"billrecon-refusals-{user}"
        iam.create_user(UserName=name)
        if policy is not None:
            iam.put_user_policy(UserName=name, PolicyName="bills", PolicyDocument=json.dumps(policy))
        created = iam.create_access_key(UserName=name)["AccessKey"]
        keys[user] = (created["AccessKeyId"], created["SecretAccessKey"])
    return keys


def _reset_auth(endpoint_url: str, free_requests: str) -> str:
    """Let moto serve `free_requests` requests unchecked from now ('inf': never check); the previous setting."""
    # not a form: moto reads the raw body, which werkzeug keeps only for other content types
    request = urllib.request.Request(f"{endpoint_url}/moto-api/reset-auth", data=free_requests.encode(),
                                     headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())["PREVIOUS_INITIAL_NO_AUTH_ACTION_COUNT"]


@pytest.fixture
def checked(s3_server, bills, users):
    """moto checks every request's keys and permissions during the test (the server is the session's)."""
    previous = _reset_auth(s3_server.endpoint_url, "0")
    try:
        yield
    finally:
        _reset_auth(s3_server.endpoint_url, previous)


def settings(s3_server, keys: tuple[str, str], bucket: str = BUCKET) -> dict[str, str]:
    return {"BILLRECON_S3_ENDPOINT": s3_server.endpoint_url, "BILLRECON_S3_BUCKET": bucket,
            "BILLRECON_S3_ACCESS_KEY": keys[0], "BILLRECON_S3_SECRET_KEY": keys[1]}


def run(workdir: Path, **environment: str) -> tuple[int, str]:
    return billrecon(workdir, "run", "--month", MONTH, "--warehouse", "wh/billrecon.duckdb", "--reports", "reports",
                     env_drop=S3_SETTINGS, **environment)


def landed(workdir: Path, account: str = "") -> list[tuple[str, str]]:
    """(object key, sha256) of every row of landing.objects (of an account of partners.toml: in its own file)."""
    con = duckdb.connect(str(workdir / "wh" / account / "billrecon.duckdb"), read_only=True)
    try:
        return con.execute("select object_key, sha256 from landing.objects order by all").fetchall()
    finally:
        con.close()


KEYS = "BILLRECON_S3_ACCESS_KEY and BILLRECON_S3_SECRET_KEY"
NOT_CHANGED = "then run again (no month was changed)"
DENIED = (f"(AccessDenied): give their account the right to list the bucket and read its objects, or set {KEYS} to "
          f"the keys of an account that has it, {NOT_CHANGED}")
REFUSALS = {  # case -> (the settings' keys: a user's or made up, the bucket, the line after `{MONTH} failed: `)
    "no such bucket": (
        "reader", "bills-nowhere",
        "there is no bucket bills-nowhere at {s3} (NoSuchBucket): check BILLRECON_S3_BUCKET (and "
        f"BILLRECON_S3_ENDPOINT), {NOT_CHANGED}"),
    "an access key id the server does not know": (
        ("AKIAUNKNOWNKEY000000", "any-secret-of-an-unknown-key"), BUCKET,
        "the S3 endpoint {s3} does not know the access key id of BILLRECON_S3_ACCESS_KEY (InvalidAccessKeyId): set "
        f"{KEYS} to the keys of an account that may read the bucket bills-refusals, {NOT_CHANGED}"),
    "a secret that does not match the key": (
        "reader:not-the-reader-s-secret", BUCKET,
        "the S3 endpoint {s3} rejected the signature of the requests to the bucket bills-refusals "
        "(SignatureDoesNotMatch): BILLRECON_S3_SECRET_KEY is not the secret of the access key id of "
        f"BILLRECON_S3_ACCESS_KEY; set the two keys of one account, {NOT_CHANGED}"),
    "keys that may not list the bucket": (
        "nobody", BUCKET, "the keys of BILLRECON_S3_ACCESS_KEY may not list the bucket bills-refusals at {s3} " + DENIED),
    "keys that may list the bucket but not read its objects": (
        "lister", BUCKET,
        "the keys of BILLRECON_S3_ACCESS_KEY may not read the objects of the bucket bills-refusals at {s3} " + DENIED),
}


def _keys(given, users) -> tuple[str, str]:
    if isinstance(given, tuple):
        return given
    user, _, secret = given.partition(":")
    return (users[user][0], secret) if secret else users[user]


@pytest.mark.parametrize("case", list(REFUSALS))
def test_a_refusing_bucket_fails_the_run_in_one_line_and_lands_nothing(tmp_path, s3_server, users, checked, case):
    given, bucket, expected = REFUSALS[case]
    code, output = run(tmp_path, **settings(s3_server, _keys(given, users), bucket))
    assert code == 1, output
    line, log = with_log(one_line(output), tmp_path)
    assert line == f"billrecon: {MONTH} failed: " + expected.format(s3=s3_server.endpoint_url)
    assert "bug" not in line
    assert "SourceRefused" in log and "when calling the" in log  # the trace, down to the server's answer
    if "may not read" in line:  # each step read another object: the log names them
        assert "reading customerBill/customerBill_202608.tar.gz from the bucket bills-refusals" in log
    assert _keys(given, users)[1] not in output + log  # the secret is never written out
    assert landed(tmp_path) == []
    assert not list((tmp_path / "wh").glob("landing/objects/*/*"))
    assert not (tmp_path / "reports").exists()


def test_after_a_bucket_that_is_not_there_the_run_with_the_right_bucket_lands_the_month(tmp_path, s3_server, users,
                                                                                      world_dir, checked):
    code, output = run(tmp_path, **settings(s3_server, users["reader"], "bills-nowhere"))
    assert code == 1, output
    code, output = run(tmp_path, **settings(s3_server, users["reader"]))
    assert code == 0, output
    assert landed(tmp_path) == [(key, hashlib.sha256((world_dir / key).read_bytes()).hexdigest())
                                for key in MONTH_KEYS]
    assert (tmp_path / "reports" / MONTH / f"month_close_{MONTH}.html").is_file()


def test_a_refused_run_after_a_closed_month_changes_nothing_of_it(tmp_path, s3_server, users, checked):
    code, output = run(tmp_path, **settings(s3_server, users["reader"]))
    assert code == 0, output
    warehouse, published = tmp_path / "wh" / "billrecon.duckdb", tmp_path / "wh" / "published" / "billrecon.duckdb"
    before = _state(warehouse), published.read_bytes(), _files(tmp_path / "reports")
    assert len({row[0] for row in before[0][1]}) == 14 and len(before[2]) >= 2  # the world's customers, a pack
    # keys that could list the bucket would find nothing new and keep the last run's outputs: these cannot
    code, output = run(tmp_path, **settings(s3_server, (users["reader"][0], "not-the-reader-s-secret")))
    assert code == 1, output
    assert "(SignatureDoesNotMatch)" in one_line(output)
    assert (_state(warehouse), published.read_bytes(), _files(tmp_path / "reports")) == before


def _state(warehouse: Path) -> tuple[str, list]:
    """The warehouse's content fingerprint (every load, landing, staging and audit row), and the month's mart."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return warehouse_fingerprint(con), con.execute(
            "select customer_id, * from marts.customer_monthly_expenditure order by all").fetchall()
    finally:
        con.close()


def _files(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


ACCOUNT = """[[partner]]
id = "acme"
name = "Acme"
site = "intl"
currency = "USD"
[partner.files]
bucket = "{bucket}"
endpoint = "{s3}"
access_key_env = "ACME_OBS_AK"
secret_key_env = "ACME_OBS_SK"
"""


def test_an_account_of_partners_toml_is_told_to_fix_its_entry_and_the_variables_it_names(tmp_path, s3_server, users,
                                                                                       checked):
    (tmp_path / "partners.toml").write_text(ACCOUNT.format(bucket=BUCKET, s3=s3_server.endpoint_url))
    code, output = run(tmp_path, BILLRECON_PARTNERS_FILE="partners.toml", BILLRECON_PARTNER_ID="acme",
                       ACME_OBS_AK="AKIAUNKNOWNKEY000000", ACME_OBS_SK="any-secret-of-an-unknown-key")
    assert code == 1, output
    line, log = with_log(one_line(output), tmp_path)
    assert line == (f"billrecon: {MONTH} failed: the S3 endpoint {s3_server.endpoint_url} does not know the access "
                    "key id of ACME_OBS_AK (InvalidAccessKeyId): set ACME_OBS_AK and ACME_OBS_SK (the keys of "
                    "[partner.files] in partners.toml) to the keys of an account that may read the bucket "
                    "bills-refusals, then run again (no month was changed)")
    assert "any-secret-of-an-unknown-key" not in output + log
    assert landed(tmp_path, "acme") == []
