"""The BSS partner API emulator: a real HTTP server on 127.0.0.1 serving a generated world.

A request passes the gateway steps in the order a real gateway applies them:

1. route lookup (404 for an unknown path or method);
2. SDK-HMAC-SHA256 signature and X-Sdk-Date check (401 CBC.0154); X-Domain-Id, when sent, must
   be the emulator's domain (403 CBC.0151);
3. flow control per (client IP, route, access key) (429 CBC.0250 with Retry-After);
4. injected faults (5xx CBC.0999, slow answers);
5. the operation itself (400 … for bad parameters), then possibly a malformed body.

Every answer carries `X-Request-Id`; `requests_by_route` counts every request that reached a
route, `responses_by_route` counts (route, status) pairs, so tests can see retries happen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import secrets
import socket
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

from ..api_data import ApiData
from ..world import World
from . import jsontext, signing
from .calls import ApiError, Call
from .gateway import FaultConfig, Throttle, ThrottleConfig, retry_after_header
from .routes import ROUTES, resolve

MAX_BODY_BYTES = 12 * 1024 * 1024   # the gateway's limit for AK/SK-signed bodies (docs/domain.md)
DEFAULT_DOMAIN_ID = "0d5c7e1f9a3b4c2d8e6f1a0b3c5d7e9f"


class BssEmulator:
    """The emulator for one world. Usable as a context manager (`with BssEmulator(world) as bss:`)
    or with `start()` / `stop()`.

    Credentials: one access key / secret key pair (random unless given) and the partner's domain
    ID. `throttle` is True (documented rates), False, or a ThrottleConfig. `faults` may be replaced
    or changed while the server runs. `max_limits` overrides the maximum page size of routes by
    name. `reseller_scoping=False` lets requests without indirect_partner_id see every customer.
    """

    def __init__(self, world: World, *, port: int = 0, access_key: str | None = None,
                 secret_key: str | None = None, domain_id: str = DEFAULT_DOMAIN_ID,
                 throttle: bool | ThrottleConfig = True, faults: FaultConfig | None = None,
                 max_limits: Mapping[str, int] | None = None, verify_signatures: bool = True,
                 reseller_scoping: bool = True, api_data: ApiData | None = None):
        self.world = world
        self.api_data = api_data or world.api_data
        self.port = port
        self.access_key = access_key or "AK" + secrets.token_hex(9).upper()
        self.secret_key = secret_key or secrets.token_urlsafe(30)
        self.domain_id = domain_id
        if throttle is True:
            throttle = ThrottleConfig()
        self.throttle: Throttle | None = Throttle(throttle) if throttle else None
        self.faults = faults or FaultConfig()
        self.max_limits = {route.name: route.max_limit for route in ROUTES}
        self.max_limits.update(max_limits or {})
        self.verify_signatures = verify_signatures
        self.reseller_scoping = reseller_scoping
        self.requests_by_route: Counter[str] = Counter()
        self.responses_by_route: Counter[tuple[str, int]] = Counter()
        self._paged_serials: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------------------ lifecycle

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> BssEmulator:
        if self._server is not None:
            return self
        handler = type("BoundBssHandler", (_BssHandler,), {"emulator": self})
        self._server = _QuietServer(("127.0.0.1", self.port), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="bss-emulator", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> BssEmulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset_counters(self) -> None:
        with self._lock:
            self.requests_by_route.clear()
            self.responses_by_route.clear()
            self._paged_serials.clear()

    # ------------------------------------------------------------------------------ one request

    def handle(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes,
               client_ip: str) -> tuple[int, dict[str, str], bytes]:
        """Status, extra headers and body of the answer to one request."""
        split = urlsplit(raw_path)
        resolved = resolve(method, split.path)
        if resolved is None:
            return _error(404, "CBC.0100", f"No API {method} {split.path}.")
        route, path_params = resolved
        with self._lock:
            self.requests_by_route[route.name] += 1
            serial = self.requests_by_route[route.name]
        status, extra, payload = self._through_gateway(route, path_params, method, split, headers, body,
                                                       client_ip, serial)
        with self._lock:
            self.responses_by_route[(route.name, status)] += 1
        return status, extra, payload

    def _through_gateway(self, route, path_params, method, split, headers, body, client_ip, serial):
        access_key = self.access_key
        if self.verify_signatures:
            request = signing.IncomingRequest(method, split.path, split.query, headers, body)
            try:
                access_key = signing.verify(request, {self.access_key: self.secret_key},
                                            dt.datetime.now(dt.UTC))
            except signing.SignatureRejected as rejected:
                return _error(401, "CBC.0154", f"Authentication failed: {rejected}.")
        sent_domain = headers.get("x-domain-id")
        if sent_domain is not None and sent_domain != self.domain_id:
            return _error(403, "CBC.0151", "Access denied.")
        if self.throttle is not None:
            wait = self.throttle.admit(client_ip, route.name, access_key)
            if wait is not None:
                status, extra, payload = _error(429, "CBC.0250", "Flow control: too many requests.")
                extra["Retry-After"] = retry_after_header(wait)
                return status, extra, payload

        faults = self.faults  # one consistent configuration for the whole request
        delay = faults.delay(route.name, serial)
        if delay:
            time.sleep(delay)
        failure = faults.error_status(route.name, serial)
        if failure is not None:
            return _error(failure, "CBC.0999", "Internal error, please retry later.")

        try:
            call = self._call(route, path_params, method, split.query, body, faults)
            answer = route.handler(self.api_data, call)
        except ApiError as error:
            return _error(error.status, error.code, error.message)
        payload = jsontext.dumps(answer).encode("utf-8")
        if faults.malformed(route.name, serial):
            payload = payload[: max(1, len(payload) // 2)]
        return 200, {}, payload

    def _call(self, route, path_params, method, query, body, faults: FaultConfig) -> Call:
        parsed_body: dict = {}
        if method == "POST" and body.strip():
            try:
                parsed_body = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError(400, "CBC.0100", "The request body is not valid JSON.") from None
            if not isinstance(parsed_body, dict):
                raise ApiError(400, "CBC.0100", "The request body must be a JSON object.")
        total_shift = 0
        if route.paged and faults.shifting_total and faults.applies_to(route.name):
            with self._lock:
                total_shift = self._paged_serials[route.name]
                self._paged_serials[route.name] += 1
        return Call(route=route, path_params=path_params, query=dict(parse_qsl(query, keep_blank_values=True)),
                    body=parsed_body, domain_id=self.domain_id,
                    max_limit=self.max_limits.get(route.name), total_shift=total_shift,
                    reseller_scoping=self.reseller_scoping)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def get_request(self):
        connection, address = super().get_request()
        # answers are written in pieces; without TCP_NODELAY Nagle's algorithm meets the client's
        # delayed ACK and every request waits ~40 ms
        connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return connection, address

    def handle_error(self, request, client_address) -> None:
        # A client that gave up (timeout tests, interrupted pulls) closes its socket while a slow
        # answer is still being written: that is expected, not worth a traceback.
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], bytes]:
    return status, {}, jsontext.dumps({"error_code": code, "error_msg": message}).encode("utf-8")


class _BssHandler(BaseHTTPRequestHandler):
    emulator: BssEmulator
    protocol_version = "HTTP/1.1"      # keep-alive, as the SDK's connection pool expects
    server_version = "BssEmulator"
    sys_version = ""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self._answer(413, {}, jsontext.dumps({"error_code": "CBC.0100",
                                                  "error_msg": "Request body too large."}).encode())
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        status, extra, payload = self.emulator.handle(self.command, self.path, _header_values(self.headers), body,
                                                      self.client_address[0])
        self._answer(status, extra, payload)

    def _answer(self, status: int, extra: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        for name, value in extra.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args) -> None:
        pass  # quiet: tests and the demo print their own progress


def _header_values(headers) -> dict[str, str]:
    """Lower-case header names → values as the client meant them: HTTP carries header bytes, which
    http.server decodes as ISO-8859-1; the SDK sent UTF-8, so non-ASCII values are re-decoded."""
    values = {}
    for name, value in headers.items():
        with contextlib.suppress(UnicodeEncodeError, UnicodeDecodeError):  # not UTF-8 bytes: keep as read
            value = value.encode("iso-8859-1").decode("utf-8")
        values[name.lower()] = value
    return values
