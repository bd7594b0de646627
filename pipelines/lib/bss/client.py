"""The BSS partner API through the official SDKs, with every read call retried (see retry.py).

The account's site decides the SDK (`Operation.sdk_on`). On the international site `BssintlClient`
(huaweicloudsdkbssintl) serves most partner APIs, and `BssClient` (huaweicloudsdkbss, the China-site
SDK) is pointed at the same endpoint for the operations only it models (customer monthly sums,
incentive policies, commercial discounts, issued partner coupons, and the coupon list with an
`indirect_partner_id`). A China-site account calls every operation through `BssClient` but the four
the China SDK does not model (budgets, the partner's monthly bill, credit, invoices), which keep the
international request classes: the same routes, on the account's endpoint. Where both SDKs model a
call, the request fields billrecon sends and the response fields it reads are the same in both
(tests/unit/test_bss_sdk_sites.py). Both are built with `GlobalCredentials(ak, sk, domain_id)` and an
explicit endpoint and no region: without a region the SDK never calls IAM, so the endpoint is the only host
contacted (docs/domain.md#signing-and-endpoints).

Records are read from the response's raw JSON with every number parsed as `Decimal`, not from the
SDK's models: several models type amounts as `float` (order amounts, coupon face values), which
would lose cents, and the raw JSON also keeps fields a model does not know.
"""

from __future__ import annotations

import functools
import importlib
import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

import requests
from huaweicloudsdkcore.auth.credentials import GlobalCredentials
from huaweicloudsdkcore.exceptions.exception_handler import DefaultExceptionHandler
from huaweicloudsdkcore.exceptions.exceptions import (
    CallTimeoutException,
    ConnectionException,
    SdkException,
    ServiceResponseException,
)
from huaweicloudsdkcore.http.http_config import HttpConfig
from huaweicloudsdkcore.http.http_handler import HttpHandler

from pipelines.lib.bss.errors import CallFailure, Redactor
from pipelines.lib.bss.retry import CallStats, RetryPolicy, call_with_retry, parse_retry_after

THROTTLED_CODE = "CBC.0250"
Site = Literal["intl", "cn"]
_SDK_PACKAGES = {"intl": "huaweicloudsdkbssintl.v2", "cn": "huaweicloudsdkbss.v2"}
_CLIENT_CLASSES = {"intl": "BssintlClient", "cn": "BssClient"}


@functools.cache
def sdk_models(sdk: Site, method: str, request_class: str) -> bool:
    """True when the SDK has the client method and its request class."""
    package = importlib.import_module(_SDK_PACKAGES[sdk])
    return hasattr(getattr(package, _CLIENT_CLASSES[sdk]), method) and hasattr(package, request_class)


@dataclass(frozen=True)
class BssConnection:
    """Where the API is and who calls it. The keys are left out of repr(), so a connection printed
    in a log or a traceback shows no credential."""

    endpoint: str
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)
    domain_id: str
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    site: Site = "intl"     # the account's HUAWEI CLOUD site: which SDK builds each call

    @property
    def redactor(self) -> Redactor:
        return Redactor(self.access_key, self.secret_key)


@dataclass(frozen=True)
class Operation:
    """One API operation as the official SDK names and models it."""

    sdk: Site                        # the SDK that builds the call for an international account
    method: str                      # SDK method, e.g. "list_sub_customers"
    http_method: str
    path: str
    request_class: str               # e.g. "ListSubCustomersRequest"
    body_class: str | None = None    # POST operations take their parameters in a body model
    reads_only: bool = True          # False for anything that changes state: such calls are never retried

    @property
    def route(self) -> str:
        return f"{self.http_method} {self.path}"

    def sdk_on(self, site: Site) -> Site:
        """The SDK that builds the call for an account of `site`: a China-site account's own SDK
        wherever it models the call."""
        if site == "cn" and sdk_models("cn", self.method, self.request_class):
            return "cn"
        return self.sdk

    def build_request(self, params: Mapping[str, Any], sdk: Site) -> Any:
        models = importlib.import_module(_SDK_PACKAGES[sdk])
        values = {k: v for k, v in params.items() if v is not None}
        if self.body_class is not None:
            return getattr(models, self.request_class)(body=getattr(models, self.body_class)(**values))
        return getattr(models, self.request_class)(**values)


class MalformedBody(Exception):
    """A 200 answer whose body is not a JSON object (cut off, or not JSON at all)."""

    def __init__(self, request_id: str | None):
        super().__init__("the response body is not a JSON object")
        self.request_id = request_id


class ErrorInBody(Exception):
    """A 200 answer that carries an error code (some partner APIs report errors this way, docs/domain.md#errors)."""

    def __init__(self, error_code: str, error_msg: str | None, request_id: str | None):
        super().__init__(error_code)
        self.error_code, self.error_msg, self.request_id = error_code, error_msg, request_id


class _RetryAfterHandler(DefaultExceptionHandler):
    """The SDK's error handling, plus the Retry-After header of the answer, which the SDK drops."""

    def handle_exception(self, request, response):
        try:
            super().handle_exception(request, response)
        except ServiceResponseException as exc:
            exc.retry_after = parse_retry_after(response.headers.get("Retry-After"))
            raise


class _LastRequestId(threading.local):
    value: str | None = None


def build_sdk_clients(connection: BssConnection, http_handler: HttpHandler | None = None) -> dict[str, Any]:
    """The intl and cn SDK clients for the connection: explicit endpoint, no region, no SDK retries."""
    config = HttpConfig.get_default_config()
    config.timeout = (connection.connect_timeout, connection.read_timeout)
    config.retry_times = 0  # retries are ours (retry.py): the SDK's skip POST and lose the error body
    clients = {}
    for sdk, package in _SDK_PACKAGES.items():
        client_class = getattr(importlib.import_module(package), _CLIENT_CLASSES[sdk])
        _quiet_sdk_logger(client_class)
        builder = (client_class.new_builder()
                   .with_credentials(GlobalCredentials(connection.access_key, connection.secret_key,
                                                       connection.domain_id))
                   .with_endpoint(connection.endpoint)
                   .with_http_config(config)
                   .with_exception_handler(_RetryAfterHandler()))
        if http_handler is not None:
            builder = builder.with_http_handler(http_handler)
        clients[sdk] = builder.build()
    return clients


def _quiet_sdk_logger(client_class: type) -> None:
    """The SDK logs every failed connection as an error ("ConnectionException occurred. …") on a logger
    of its own without a handler, which Python then prints on stderr, once per try, before the run's one
    line. That line and the log already say it (BssCallFailed: the route, the error, the request id):
    a handler that drops the SDK's records keeps them off the terminal."""
    logger = logging.getLogger(f"HuaweiCloud-SDK-{client_class.__name__}")  # as the SDK names it (Client._init_logger)
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


class BssApi:
    """Read calls against the BSS API, each retried under `policy`; answers as plain JSON dicts."""

    def __init__(self, connection: BssConnection, policy: RetryPolicy | None = None, *,
                 sleep: Callable[[float], None] = time.sleep,
                 on_retry: Callable[[str, CallFailure, int, float], None] | None = None,
                 clients: Mapping[str, Any] | None = None):
        """`clients` replaces the SDK clients ({"intl": ..., "cn": ...}): for tests with fakes."""
        self.connection = connection
        self.policy = policy or RetryPolicy()
        self.stats = CallStats()
        self._sleep = sleep
        self._on_retry = on_retry
        self._redact = connection.redactor
        self._last_request_id = _LastRequestId()
        handler = HttpHandler().add_response_handler(self._remember_request_id)
        self._clients = dict(clients) if clients is not None else build_sdk_clients(connection, handler)

    def _remember_request_id(self, **kwargs) -> None:
        response = kwargs.get("response")
        self._last_request_id.value = response.headers.get("X-Request-Id") if response is not None else None

    def call(self, operation: Operation, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """One operation, retried while the failure is transient; raises `BssCallFailed` otherwise."""
        sdk = operation.sdk_on(self.connection.site)
        request = operation.build_request(params or {}, sdk)
        invoke = getattr(self._clients[sdk], operation.method)

        def send() -> dict[str, Any]:
            self._last_request_id.value = None
            return self._body(invoke(request))

        def retried(failure: CallFailure, attempt: int, wait: float) -> None:
            if self._on_retry is not None:
                self._on_retry(operation.route, failure, attempt, wait)

        return call_with_retry(send, route=operation.route, reads_only=operation.reads_only,
                               classify=self.classify, policy=self.policy, redact=self._redact, stats=self.stats,
                               sleep=self._sleep, on_retry=retried)

    def _body(self, response: Any) -> dict[str, Any]:
        raw = getattr(response, "raw_content", None) or b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw, parse_float=Decimal)
        except ValueError:
            raise MalformedBody(self._last_request_id.value) from None
        if not isinstance(body, dict):
            raise MalformedBody(self._last_request_id.value)
        code = body.get("error_code")
        if code and code != "CBC.0000":
            raise ErrorInBody(str(code), body.get("error_msg"), self._last_request_id.value)
        return body

    def classify(self, exc: Exception) -> CallFailure | None:
        """What a failed attempt means. Only failures a retry can cure are retryable: throttling,
        server errors, timeouts, dropped connections and cut-off bodies."""
        if isinstance(exc, ServiceResponseException):
            status, code = exc.status_code, exc.error_code
            throttled = status == 429 or code == THROTTLED_CODE
            return CallFailure(
                retryable=throttled or (status is not None and status >= 500),
                summary=f"HTTP {status} {code}" if code and code != str(status) else f"HTTP {status}",
                status=status, error_code=code, request_id=exc.request_id or None, message=exc.error_msg,
                retry_after=getattr(exc, "retry_after", None), throttled=throttled,
            )
        if isinstance(exc, (CallTimeoutException, requests.Timeout)) or "timed out" in str(exc).lower():
            # the SDK reports a read timeout as a ConnectionException whose text says so
            return CallFailure(True, f"no answer within {self.connection.read_timeout:g} s (timeout)")
        if isinstance(exc, (ConnectionException, requests.ConnectionError)):
            return CallFailure(True, f"connection to {self.connection.endpoint} failed ({type(exc).__name__})")
        if isinstance(exc, MalformedBody):
            return CallFailure(True, "HTTP 200 with a body that is not valid JSON", request_id=exc.request_id)
        if isinstance(exc, ErrorInBody):
            return CallFailure(False, f"HTTP 200 {exc.error_code}", error_code=exc.error_code,
                               request_id=exc.request_id, message=exc.error_msg)
        if isinstance(exc, SdkException):
            return CallFailure(False, f"{type(exc).__name__}", message=getattr(exc, "error_msg", None))
        return None

    def close(self) -> None:
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> BssApi:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
