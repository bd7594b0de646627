"""Parts of the BSS emulator without a server: exact JSON numbers, the signature verifier checked
against the official SDK's signer, token-bucket throttling, deterministic faults, route table."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.sdk_request import SdkRequest
from huaweicloudsdkcore.signer.signer import Signer

from sandbox.bss import ROUTES, FaultConfig, ThrottleConfig, jsontext, signing
from sandbox.bss.gateway import Throttle, retry_after_header
from sandbox.bss.routes import resolve

# ------------------------------------------------------------------------------------------ JSON text


@pytest.mark.parametrize("value, text", [
    (Decimal("0.1") + Decimal("0.2"), "0.3"),
    (Decimal("12.50000000"), "12.5"),
    (Decimal("-56.29073910"), "-56.2907391"),
    (Decimal("100"), "100"),
    (Decimal("1E+2"), "100"),
    (Decimal("0E-8"), "0"),
    (Decimal("-0E-8"), "0"),
    (Decimal("0.123456789"), "0.12345679"),          # rounded half-up to 8 places
    (Decimal("123456789012.12345678"), "123456789012.12345678"),
])
def test_decimals_are_written_as_exact_json_numbers(value, text):
    assert jsontext.decimal_text(value) == text
    assert json.loads(jsontext.dumps({"v": value}), parse_float=Decimal)["v"] == Decimal(text)


def test_json_text_keeps_strings_unicode_and_refuses_floats():
    body = {"name": "深圳 \"Acme\"", "ok": True, "none": None, "n": 3, "items": [Decimal("1.5"), "x"]}
    assert json.loads(jsontext.dumps(body), parse_float=Decimal) == {**body, "items": [Decimal("1.5"), "x"]}
    assert "深圳" in jsontext.dumps(body)
    with pytest.raises(TypeError):
        jsontext.dumps({"amount": 0.1})


# ------------------------------------------------------------------------------------------ signing

AK, SK = "AKTESTACCESSKEY", "secret-key-of-the-test"


def sdk_signed(method: str, path: str, query: list[tuple[str, object]], body: str = "",
               headers: dict[str, str] | None = None) -> signing.IncomingRequest:
    """Sign with the official SDK signer, then present the request as the server receives it."""
    request = SdkRequest(method=method, schema="http", host="127.0.0.1:8080", resource_path=path,
                         query_params=query, body=body,
                         header_params={"Content-Type": "application/json", "User-Agent": "test", **(headers or {})})
    Signer(GlobalCredentials(AK, SK, "domain")).sign(request)
    raw_path, _, raw_query = request.uri.partition("?")
    sent = {name.lower(): value for name, value in request.header_params.items()}
    data = body.encode() if isinstance(body, str) else body
    return signing.IncomingRequest(method, raw_path, raw_query, sent, data)


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.mark.parametrize("method, path, query, body", [
    ("GET", "/v2/bills/partner-bills/postpaid-bill-summary", [("bill_cycle", "2026-08")], ""),
    ("GET", "/v2/orders/customer-orders", [("offset", 10), ("limit", 5), ("order_by", "-createTime"),
                                          ("create_time_begin", "2026-08-01T00:00:00Z"), ("status", 5)], ""),
    ("POST", "/v2/partners/sub-customers/query", [], json.dumps({"customer": "深圳 & co", "limit": 10})),
    ("GET", "/v2/orders/customer-orders/details/CS2608%2F01", [("indirect_partner_id", "a b+c")], ""),
])
def test_requests_signed_by_the_sdk_verify(method, path, query, body):
    request = sdk_signed(method, path, query, body)
    assert signing.verify(request, {AK: SK}, now_utc()) == AK


def test_tampering_with_any_signed_part_is_detected():
    request = sdk_signed("GET", "/v2/orders/customer-orders", [("limit", 5)])
    tampered = [
        signing.IncomingRequest(request.method, request.path, "limit=6", request.headers, request.body),
        signing.IncomingRequest(request.method, "/v2/orders/customer-order", request.query, request.headers,
                                request.body),
        signing.IncomingRequest("DELETE", request.path, request.query, request.headers, request.body),
        signing.IncomingRequest(request.method, request.path, request.query, request.headers, b"{}"),
        signing.IncomingRequest(request.method, request.path, request.query,
                                {**request.headers, "host": "127.0.0.1:9999"}, request.body),
    ]
    for changed in tampered:
        with pytest.raises(signing.SignatureRejected, match="does not match"):
            signing.verify(changed, {AK: SK}, now_utc())
    with pytest.raises(signing.SignatureRejected, match="unknown access key"):
        signing.verify(request, {"OTHER": SK}, now_utc())
    with pytest.raises(signing.SignatureRejected, match="does not match"):
        signing.verify(request, {AK: SK + "x"}, now_utc())


def test_the_date_must_be_within_15_minutes_of_the_server_clock():
    signed_at = dt.datetime(2026, 10, 5, 8, 0, 0)
    request = sdk_signed("GET", "/v2/bases/measurements", [],
                         headers={"X-Sdk-Date": signed_at.strftime("%Y%m%dT%H%M%SZ")})
    server_time = signed_at.replace(tzinfo=dt.UTC)
    assert signing.verify(request, {AK: SK}, server_time + dt.timedelta(minutes=14, seconds=59)) == AK
    assert signing.verify(request, {AK: SK}, server_time - dt.timedelta(minutes=15)) == AK
    with pytest.raises(signing.SignatureRejected, match="15 minutes"):
        signing.verify(request, {AK: SK}, server_time + dt.timedelta(minutes=15, seconds=1))
    with pytest.raises(signing.SignatureRejected, match="15 minutes"):
        signing.verify(request, {AK: SK}, server_time - dt.timedelta(minutes=20))


def test_canonical_uri_and_query_follow_the_sdk():
    assert signing.canonical_uri("/v2/a b/c") == "/v2/a%20b/c/"
    assert signing.canonical_uri("/v2/x/") == "/v2/x/"
    assert signing.canonical_query("b=2&a=%7E1&c=x%2By") == "a=~1&b=2&c=x%2By"


# ------------------------------------------------------------------------------------------ throttling

class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_allows_the_rate_then_throttles_until_refilled():
    clock = FakeClock()
    throttle = Throttle(ThrottleConfig(default_rate=10.0, route_rates={"monthly": 30.0}), clock=clock)
    assert [throttle.admit("ip", "route", "ak") for _ in range(10)] == [None] * 10
    wait = throttle.admit("ip", "route", "ak")
    assert wait == pytest.approx(0.1)
    assert retry_after_header(wait) == "1"
    # Other keys have buckets of their own; the monthly-sum route allows 30/s.
    assert throttle.admit("ip", "other-route", "ak") is None
    assert throttle.admit("ip", "route", "other-ak") is None
    assert all(throttle.admit("ip", "monthly", "ak") is None for _ in range(30))
    assert throttle.admit("ip", "monthly", "ak") is not None
    clock.now += 0.11   # one token back (a little over 0.1 s, clear of float rounding)
    assert throttle.admit("ip", "route", "ak") is None
    assert throttle.admit("ip", "route", "ak") is not None


# ------------------------------------------------------------------------------------------ faults

def test_faults_are_deterministic_and_respect_their_scope():
    faults = FaultConfig(error_rate=0.3, seed=4, routes=frozenset({"list_customer_orders"}))
    first = [faults.error_status("list_customer_orders", n) for n in range(1, 201)]
    assert first == [faults.error_status("list_customer_orders", n) for n in range(1, 201)]
    failed = [status for status in first if status is not None]
    assert 40 <= len(failed) <= 80 and set(failed) == {500, 503}
    assert all(faults.error_status("list_sub_customers", n) is None for n in range(1, 50))
    assert FaultConfig(fail_first=2).error_status("x", 2) in (500, 503)
    assert FaultConfig(fail_first=2).error_status("x", 3) is None
    assert FaultConfig(always_fail=frozenset({"x"})).error_status("x", 99) == 503


# ------------------------------------------------------------------------------------------ routes

def test_every_route_resolves_to_its_sdk_method_name():
    assert len(ROUTES) == len({r.name for r in ROUTES})
    route, params = resolve("GET", "/v2/orders/customer-orders/details/CS123")
    assert route.name == "show_customer_order_details" and params == {"order_id": "CS123"}
    route, params = resolve("GET", "/v1.0/abc/payments/intl-invoices")
    assert route.name == "list_invoices" and params == {"domain_id": "abc"}
    assert resolve("GET", "/v2/partners/sub-customers/query") is None     # POST only
    assert resolve("GET", "/v2/orders/customer-orders/")[0].name == "list_customer_orders"


def test_each_route_is_served_by_the_handler_of_its_sdk_method_in_the_handlers_module():
    # the route table (routes.py), the request model (calls.py) and the operations (handlers.py) are
    # separate modules; a route's handler is named after its SDK method
    assert [(r.name, r.handler.__module__, r.handler.__name__) for r in ROUTES] == [
        (r.name, "sandbox.bss.handlers", r.name) for r in ROUTES]
