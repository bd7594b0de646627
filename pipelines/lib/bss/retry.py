"""Retry with capped exponential backoff and jitter, honouring Retry-After, for read calls only.

The SDK's own retry (urllib3, `HttpConfig.retry_times`) covers 429 on GET/PUT/DELETE but not POST,
and several partner queries are POSTs (customer list, budget batch, commercial discounts); it also
drops the error body once its retries run out. So the SDK's retry stays off and every call goes
through `call_with_retry`, which retries 429/CBC.0250, 5xx, timeouts, connection errors and broken
bodies, with a bound on attempts and on total time, and never retries a call that changes state.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import TypeVar

from pipelines.lib.bss.errors import BssCallFailed, CallFailure, Redactor

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6            # the first try and up to five retries
    base_delay: float = 0.5          # seconds before the first retry (before jitter)
    max_delay: float = 30.0          # cap of one wait
    max_total_seconds: float = 300.0  # a call gives up rather than wait past this since its first try

    def backoff(self, attempt: int, draw: Callable[[], float]) -> float:
        """Wait after failed attempt `attempt` (1-based): "equal jitter", i.e. half of the capped
        exponential delay plus a random share of the other half, so waits grow but never line up
        across callers, and never drop to zero."""
        delay = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return delay / 2 + draw() * delay / 2


@dataclass
class CallStats:
    """What the calls of one pull cost: shown in the asset's metadata."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0
    server_errors: int = 0
    timeouts_or_broken: int = 0

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def call_with_retry(send: Callable[[], T], *, route: str, reads_only: bool,
                    classify: Callable[[Exception], CallFailure | None],
                    policy: RetryPolicy, redact: Redactor, stats: CallStats | None = None,
                    sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic,
                    draw: Callable[[], float] = random.random,
                    on_retry: Callable[[CallFailure, int, float], None] | None = None) -> T:
    """`send()` until it returns. A failure `classify` does not recognise is a bug and propagates as
    is; a recognised one is retried while retryable, the call only reads, attempts and time remain;
    otherwise it becomes a `BssCallFailed` naming the route, the error and the request id."""
    stats = stats if stats is not None else CallStats()
    started = clock()
    attempt = 0
    while True:
        attempt += 1
        stats.requests += 1
        try:
            return send()
        except Exception as exc:  # noqa: BLE001 (classified right below; unknown ones are re-raised)
            failure = classify(exc)
            if failure is None:
                raise
        _count(stats, failure)
        if not failure.retryable:
            raise BssCallFailed(route, failure, attempt, redact) from None
        if not reads_only:
            # a call that changes state may have taken effect even though the answer was lost
            raise BssCallFailed(route, failure, attempt, redact, note="not retried: the call changes state") from None
        if attempt >= policy.max_attempts:
            raise BssCallFailed(route, failure, attempt, redact) from None
        wait = policy.backoff(attempt, draw)
        if failure.retry_after is not None:
            # the server said when: wait at least that long, plus a little jitter so a burst of
            # throttled callers does not come back in the same instant
            wait = max(wait, failure.retry_after + draw() * policy.base_delay / 2)
        elapsed = clock() - started
        if elapsed + wait > policy.max_total_seconds:
            raise BssCallFailed(route, failure, attempt, redact,
                                note=f"gave up: retrying would exceed {policy.max_total_seconds:g} s") from None
        stats.retries += 1
        if on_retry is not None:
            on_retry(failure, attempt, wait)
        sleep(wait)


def _count(stats: CallStats, failure: CallFailure) -> None:
    if failure.throttled:
        stats.throttled += 1
    elif failure.status is not None and failure.status >= 500:
        stats.server_errors += 1
    elif failure.retryable:
        stats.timeouts_or_broken += 1


def parse_retry_after(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if value is None or not str(value).strip():
        return None
    value = str(value).strip()
    with contextlib.suppress(ValueError):  # not delta-seconds: an HTTP date, or nothing usable
        return max(0.0, float(value))
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now())
    except (TypeError, ValueError):
        return None
