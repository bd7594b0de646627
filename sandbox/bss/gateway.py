"""Gateway behaviour around the API handlers: flow control (throttling) and fault injection."""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

# Documented quotas (docs/domain.md#throttling-and-retries): 10 requests/s per (source IP, API,
# account), with exceptions.
DEFAULT_RATE_PER_SECOND = 10.0
DOCUMENTED_ROUTE_RATES: Mapping[str, float] = {"list_subcustomer_monthly_bills": 30.0}


@dataclass(frozen=True)
class ThrottleConfig:
    """Token buckets per (client IP, route, access key). A bucket holds `rate × burst_seconds`
    tokens (at least 1) and refills at `rate` per second; a request finding it empty gets 429
    CBC.0250 with Retry-After. Tests use low rates to throttle quickly."""

    default_rate: float = DEFAULT_RATE_PER_SECOND
    route_rates: Mapping[str, float] = field(default_factory=lambda: dict(DOCUMENTED_ROUTE_RATES))
    burst_seconds: float = 1.0

    def rate_of(self, route: str) -> float:
        return self.route_rates.get(route, self.default_rate)


class Throttle:
    def __init__(self, config: ThrottleConfig, clock=time.monotonic):
        self.config = config
        self._clock = clock
        self._buckets: dict[tuple[str, str, str], tuple[float, float]] = {}  # key → (tokens, updated at)
        self._lock = threading.Lock()

    def admit(self, client_ip: str, route: str, access_key: str) -> float | None:
        """None when the request may pass (a token is taken); else seconds until a token is back."""
        rate = self.config.rate_of(route)
        capacity = max(1.0, rate * self.config.burst_seconds)
        key = (client_ip, route, access_key)
        with self._lock:
            now = self._clock()
            tokens, updated = self._buckets.get(key, (capacity, now))
            tokens = min(capacity, tokens + (now - updated) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / rate


def retry_after_header(wait_seconds: float) -> str:
    """Retry-After carries whole seconds (RFC 9110), rounded up so a client that honours it is admitted."""
    return str(max(1, math.ceil(wait_seconds)))


@dataclass
class FaultConfig:
    """Faults the emulator injects. Change fields (or assign a new FaultConfig to
    `BssEmulator.faults`) while the server runs; every decision is a pure function of
    (seed, route, the route's request number), so a sequential client sees the same faults every run.

    - `error_rate`: share of requests answered with a 5xx from `error_statuses` (CBC.0999 body).
    - `fail_first`: the first N requests of each route in scope answer 5xx (deterministic retries).
    - `slow_rate`, `slow_seconds`: share of requests delayed by `slow_seconds` before the answer.
    - `malformed_rate`: share of successful answers whose JSON body is cut off half-way (still 200).
    - `shifting_total`: the count field of paged answers grows by one with every page served on the
      route, as if records were added while a client pages.
    - `always_fail`: route names (SDK method names) that always answer `always_fail_status`.
    - `routes`: route names the random and first-N faults apply to; None = every route.
    """

    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (500, 503)
    fail_first: int = 0
    slow_rate: float = 0.0
    slow_seconds: float = 0.0
    malformed_rate: float = 0.0
    shifting_total: bool = False
    always_fail: frozenset[str] = frozenset()
    always_fail_status: int = 503
    routes: frozenset[str] | None = None
    seed: int = 0

    def applies_to(self, route: str) -> bool:
        return self.routes is None or route in self.routes

    def draw(self, route: str, serial: int, purpose: str) -> float:
        """A uniform number in [0, 1) fixed by (seed, route, request number, purpose)."""
        return random.Random(f"{self.seed}|{route}|{serial}|{purpose}").random()

    def error_status(self, route: str, serial: int) -> int | None:
        """The 5xx status to answer request number `serial` (from 1) of `route` with, if any."""
        if route in self.always_fail:
            return self.always_fail_status
        if not self.applies_to(route):
            return None
        if serial <= self.fail_first or (self.error_rate > 0 and self.draw(route, serial, "error") < self.error_rate):
            statuses = self.error_statuses or (500,)
            return statuses[int(self.draw(route, serial, "status") * len(statuses))]
        return None

    def delay(self, route: str, serial: int) -> float:
        if self.slow_seconds > 0 and self.applies_to(route) and self.draw(route, serial, "slow") < self.slow_rate:
            return self.slow_seconds
        return 0.0

    def malformed(self, route: str, serial: int) -> bool:
        return (self.malformed_rate > 0 and self.applies_to(route)
                and self.draw(route, serial, "malformed") < self.malformed_rate)
