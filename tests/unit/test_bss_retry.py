"""Retry of BSS API calls, with fakes of the SDK call: what is retried, how long it waits, what a
failure says, and that no credential reaches the message."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests
from huaweicloudsdkcore.exceptions.exceptions import (
    CallTimeoutException,
    ClientRequestException,
    ConnectionException,
    SdkError,
    ServerResponseException,
)

from pipelines.lib.bss.client import BssApi, BssConnection, Operation
from pipelines.lib.bss.errors import BssCallFailed
from pipelines.lib.bss.retry import RetryPolicy, parse_retry_after

SECRET = "sk-SENTINEL-5f1c0a9e7d"
CONNECTION = BssConnection("http://127.0.0.1:9", "AK-SENTINEL-123456", SECRET, "domain-1")
READ = Operation("intl", "list_postpaid_bill_sum", "GET", "/v2/bills/partner-bills/postpaid-bill-summary",
                 "ListPostpaidBillSumRequest")
PAY = Operation("intl", "pay_orders", "POST", "/v3/orders/customer-orders/pay", "PayOrdersRequest",
                reads_only=False)


class Answer:
    def __init__(self, body: bytes):
        self.raw_content = body


def ok(body: dict) -> Answer:
    return Answer(json.dumps(body).encode())


def server_error(status: int = 503, code: str = "CBC.0999", request_id: str = "rid", msg: str = "Internal error"):
    return ServerResponseException(status, SdkError(request_id, code, msg))


def throttled(retry_after: float | None, request_id: str = "rid-429"):
    exc = ClientRequestException(429, SdkError(request_id, "CBC.0250", "Flow control"))
    exc.retry_after = retry_after
    return exc


class FakeSdk:
    """Answers (or raises) the scripted outcomes in order, for any method name."""

    def __init__(self, outcomes: list):
        self.outcomes = list(outcomes)
        self.calls = 0

    def __getattr__(self, method):
        def call(request):
            self.calls += 1
            outcome = self.outcomes.pop(0) if len(self.outcomes) > 1 else self.outcomes[0]
            if isinstance(outcome, BaseException):
                raise outcome
            return outcome
        return call

    def close(self):
        """Nothing to release: the fake holds no connection."""


def api_with(outcomes: list, policy: RetryPolicy | None = None) -> tuple[BssApi, FakeSdk, list[float]]:
    sdk = FakeSdk(outcomes)
    waits: list[float] = []
    api = BssApi(CONNECTION, policy or RetryPolicy(base_delay=1.0, max_delay=4.0), sleep=waits.append,
                 clients={"intl": sdk, "cn": sdk})
    return api, sdk, waits


def test_throttled_calls_wait_at_least_retry_after_then_return_exact_amounts():
    body = {"bill_cycle": "2026-09", "consume_amount": 1234.56789012, "refunds": -0.1}
    api, sdk, waits = api_with([throttled(2.0), throttled(3.0), Answer(json.dumps(body).encode())])
    answer = api.call(READ, {"bill_cycle": "2026-09"})
    assert answer["consume_amount"] == Decimal("1234.56789012") and isinstance(answer["refunds"], Decimal)
    assert sdk.calls == 3
    assert len(waits) == 2 and waits[0] >= 2.0 and waits[1] >= 3.0
    assert api.stats.throttled == 2 and api.stats.retries == 2 and api.stats.requests == 3


def test_server_errors_back_off_exponentially_with_jitter_capped_then_fail_with_route_code_and_request_id():
    api, sdk, waits = api_with([server_error(request_id="abc123")], RetryPolicy(max_attempts=6, base_delay=1.0,
                                                                                   max_delay=4.0))
    with pytest.raises(BssCallFailed) as failed:
        api.call(READ, {"bill_cycle": "2026-09"})
    assert str(failed.value).startswith(
        "GET /v2/bills/partner-bills/postpaid-bill-summary failed after 6 attempts: HTTP 503 CBC.0999 "
        "(request id abc123)")
    assert failed.value.error_code == "CBC.0999" and failed.value.request_id == "abc123"
    assert sdk.calls == 6
    # equal jitter: each wait lies in [d/2, d] for d = 1, 2, 4, 4, 4 (capped)
    for wait, delay in zip(waits, [1, 2, 4, 4, 4]):
        assert delay / 2 <= wait <= delay
    assert len(set(waits)) > 1


def test_client_errors_are_not_retried():
    refused = ClientRequestException(401, SdkError("rid-401", "CBC.0154", "Authentication failed"))
    api, sdk, waits = api_with([refused])
    with pytest.raises(BssCallFailed) as failed:
        api.call(READ)
    assert sdk.calls == 1 and waits == []
    assert str(failed.value) == ("GET /v2/bills/partner-bills/postpaid-bill-summary failed: HTTP 401 CBC.0154 "
                                 "(request id rid-401): Authentication failed")


def test_timeouts_dropped_connections_and_broken_bodies_are_retried():
    outcomes = [requests.ReadTimeout("read timed out"), CallTimeoutException("timeout"),
                ConnectionException("connection refused"), Answer(b'{"bill_cycle": "2026-'), ok({"bill_cycle": "x"})]
    api, sdk, waits = api_with(outcomes, RetryPolicy(max_attempts=6, base_delay=0.01))
    assert api.call(READ) == {"bill_cycle": "x"}
    assert sdk.calls == 5 and len(waits) == 4
    assert api.stats.timeouts_or_broken == 4


def test_an_error_code_in_a_200_body_is_not_retried():
    api, sdk, _ = api_with([ok({"error_code": "CBC.5001", "error_msg": "Not a partner."})])
    with pytest.raises(BssCallFailed, match=r"failed: HTTP 200 CBC.5001.*Not a partner"):
        api.call(READ)
    assert sdk.calls == 1


def test_a_call_that_changes_state_is_never_retried_even_on_a_5xx():
    api, sdk, waits = api_with([server_error()])
    with pytest.raises(BssCallFailed, match="not retried: the call changes state"):
        api.call(PAY)
    assert sdk.calls == 1 and waits == []


def test_a_retry_after_beyond_the_time_budget_fails_at_once():
    api, sdk, waits = api_with([throttled(120.0)], RetryPolicy(max_total_seconds=30))
    with pytest.raises(BssCallFailed, match=r"HTTP 429 CBC.0250 \(request id rid-429\).*gave up"):
        api.call(READ)
    assert sdk.calls == 1 and waits == []


def test_no_credential_reaches_the_failure_message_even_when_the_server_echoes_it():
    echo = server_error(msg=f"bad signature for key {CONNECTION.access_key} / {SECRET}")
    api, _, _ = api_with([echo], RetryPolicy(max_attempts=2, base_delay=0.01))
    with pytest.raises(BssCallFailed) as failed:
        api.call(READ)
    text = str(failed.value) + repr(failed.value) + repr(CONNECTION)
    assert SECRET not in text and CONNECTION.access_key not in text
    assert "***" in str(failed.value)
    assert failed.value.__cause__ is None and failed.value.__suppress_context__


def test_retry_after_is_read_as_seconds_or_as_an_http_date():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now=lambda: 1445412480.0) == 30.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
