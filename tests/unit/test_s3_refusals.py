"""The answers of an S3 endpoint that refuse a run, told apart by their error code, on the botocore
errors a real client raises (botocore's Stubber answers in the server's place). The integration tests
(tests/integration/test_s3_refusals.py) get the same answers from the moto server; these are the answers
it does not give: an object gone between the listing and the download, a HEAD refused without a body."""

from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from botocore.stub import Stubber

from pipelines.lib.failures import describe
from pipelines.lib.object_store import S3ObjectStore, SourceRefused

ENDPOINT = "http://obs.example.test:9000"
KEY = "customerBill/customerBill_202608.tar.gz"


@pytest.fixture
def store():
    s3 = S3ObjectStore(ENDPOINT, "partner-bills", "AK-VALUE-NEVER-SHOWN", "SK-VALUE-NEVER-SHOWN")
    with Stubber(s3._client) as stubber:
        yield s3, stubber


def _download_refused(store, tmp_path: Path, code: str, status: int) -> SourceRefused:
    s3, stubber = store
    stubber.add_client_error("get_object", service_error_code=code, http_status_code=status)
    with pytest.raises(SourceRefused) as raised:
        s3.download(KEY, tmp_path / "bill")
    return raised.value


def test_an_object_gone_since_the_listing_says_so_and_keeps_the_month(store, tmp_path):
    refused = _download_refused(store, tmp_path, "NoSuchKey", 404)
    assert describe(refused) == (f"an object listed in the bucket partner-bills at {ENDPOINT} was gone when the run "
                                 "read it (NoSuchKey): it was removed meanwhile; run again (the month keeps the files "
                                 "landed before)")
    cause = refused.__cause__
    assert isinstance(cause, ClientError) and cause.operation_name == "GetObject"
    assert cause.__notes__ == [f"reading {KEY} from the bucket partner-bills"]  # for the log


def test_keys_that_may_not_read_are_named_and_their_values_are_not(store, tmp_path):
    line = describe(_download_refused(store, tmp_path, "AccessDenied", 403))
    assert line == (f"the keys of BILLRECON_S3_ACCESS_KEY may not read the objects of the bucket partner-bills at "
                    f"{ENDPOINT} (AccessDenied): give their account the right to list the bucket and read its "
                    "objects, or set BILLRECON_S3_ACCESS_KEY and BILLRECON_S3_SECRET_KEY to the keys of an account "
                    "that has it, then run again (no month was changed)")
    assert "VALUE-NEVER-SHOWN" not in line


def test_a_listing_refused_for_want_of_permission_says_list(store):
    s3, stubber = store
    stubber.add_client_error("list_objects_v2", service_error_code="AccessDenied", http_status_code=403)
    with pytest.raises(SourceRefused, match=r"^the keys of BILLRECON_S3_ACCESS_KEY may not list the bucket "
                                            r"partner-bills at \S+ \(AccessDenied\)"):
        s3.list("customerBill/")


def _answer(code: str, status: int, operation: str) -> ClientError:
    """The error botocore raises for an answer with this code (a HEAD's answer has no body: its code is
    the HTTP status)."""
    return ClientError({"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}},
                       operation)


def test_a_head_refused_without_a_reason_points_at_the_keys_and_the_permission(store):
    s3, _ = store
    assert s3.refusal(_answer("403", 403, "HeadObject")) == (
        f"the S3 endpoint {ENDPOINT} refused to read the objects of the bucket partner-bills (HTTP 403, no reason "
        "given): check BILLRECON_S3_ACCESS_KEY and BILLRECON_S3_SECRET_KEY and that their account may read the bucket, "
        "then run again (no month was changed)")
    assert s3.refusal(_answer("404", 404, "HeadObject")).startswith(
        "an object listed in the bucket partner-bills at http://obs.example.test:9000 was gone when the run read it "
        "(404)")


def test_a_bucket_name_the_endpoint_rejects_is_no_bucket_there(store):
    s3, _ = store
    assert s3.refusal(_answer("InvalidBucketName", 400, "ListObjectsV2")) == (
        f"there is no bucket partner-bills at {ENDPOINT} (InvalidBucketName): check BILLRECON_S3_BUCKET (and "
        "BILLRECON_S3_ENDPOINT), then run again (no month was changed)")


def test_an_answer_that_is_no_refusal_stays_what_it_is(store, tmp_path):
    # a request the endpoint finds malformed is billrecon's fault: it must still be reported as a bug
    s3, stubber = store
    stubber.add_client_error("get_object", service_error_code="InvalidArgument", http_status_code=400)
    with pytest.raises(ClientError) as raised:
        s3.download(KEY, tmp_path / "bill")
    assert not isinstance(raised.value, SourceRefused) and describe(raised.value) is None
    assert s3.refusal(_answer("404", 404, "ListObjectsV2")) is None  # a listing's 404 without a code says nothing


@pytest.mark.parametrize(("code", "status", "line"), [
    ("RequestTimeTooSkewed", 403, f"the S3 endpoint {ENDPOINT} refused the requests because this machine's clock is "
                                  "off (RequestTimeTooSkewed): set the clock right (NTP), then run again (no month was "
                                  "changed)"),
    ("PermanentRedirect", 301, f"the bucket partner-bills is not served at {ENDPOINT} (PermanentRedirect): set "
                               "BILLRECON_S3_ENDPOINT to the endpoint of the bucket's region, then run again (no month "
                               "was changed)"),
    ("AuthorizationHeaderMalformed", 400, f"the bucket partner-bills is not served at {ENDPOINT} "
                                          "(AuthorizationHeaderMalformed): set BILLRECON_S3_ENDPOINT to the endpoint of "
                                          "the bucket's region, then run again (no month was changed)"),
    ("ServiceUnavailable", 503, f"the S3 endpoint {ENDPOINT} failed to answer for the bucket partner-bills "
                                "(ServiceUnavailable, after retries): a fault on the server's side; run again later "
                                "(the month keeps the files landed before)"),
])
def test_a_clock_off_a_bucket_elsewhere_and_a_failing_server_are_said_as_such(store, code, status, line):
    s3, stubber = store
    stubber.add_client_error("list_objects_v2", service_error_code=code, http_status_code=status)
    with pytest.raises(SourceRefused) as raised:
        s3.list("customerBill/")
    assert describe(raised.value) == line
