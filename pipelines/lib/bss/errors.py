"""Failures of BSS API pulls, as messages an operator can act on and that never carry a credential.

Every message names the route (`GET /v2/...`), what went wrong (HTTP status and CBC error code, a
timeout, a broken body, totals that kept changing while paging) and the request id HUAWEI CLOUD
support asks for. SDK exceptions are never passed on as they are: they are replaced by these, built
from their fields and passed through a `Redactor` holding the access key and secret key.
"""

from __future__ import annotations

from dataclasses import dataclass

REDACTED = "***"


class Redactor:
    """Replaces every occurrence of the given secrets in a text (belt and braces: no message is built
    from a credential, but a server or library could echo one back)."""

    def __init__(self, *secrets: str | None):
        # very short values would blank out ordinary words; real keys are 20+ characters
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: object) -> str:
        text = str(text)
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


class BssPullFailed(Exception):
    """A pull that could not complete: nothing of it may be kept."""

    def __init__(self, route: str, message: str):
        super().__init__(message)
        self.route = route

    @property
    def error_code(self) -> str | None:
        return None

    @property
    def request_id(self) -> str | None:
        return None


@dataclass(frozen=True)
class CallFailure:
    """What one failed attempt tells: whether trying again can help, and how to describe it."""

    retryable: bool
    summary: str                      # "HTTP 503 CBC.0999", "timed out after 60 s", ...
    status: int | None = None
    error_code: str | None = None
    request_id: str | None = None
    message: str | None = None        # the server's error_msg, if any
    retry_after: float | None = None  # seconds, from the Retry-After header
    throttled: bool = False


class BssCallFailed(BssPullFailed):
    """One API call failed for good: not retryable, or still failing after the retries allowed."""

    def __init__(self, route: str, failure: CallFailure, attempts: int, redact: Redactor, note: str | None = None):
        tried = f"failed after {attempts} attempts" if attempts > 1 else "failed"
        text = f"{route} {tried}: {failure.summary}"
        if failure.request_id:
            text += f" (request id {failure.request_id})"
        if failure.message:
            text += f": {_shorten(failure.message)}"
        if note:
            text += f"; {note}"
        super().__init__(route, redact(text))
        self.failure = failure
        self.attempts = attempts

    @property
    def error_code(self) -> str | None:
        return self.failure.error_code

    @property
    def request_id(self) -> str | None:
        return self.failure.request_id


class InconsistentPages(BssPullFailed):
    """The list changed under the pull (its total moved, or pages came back short) every time it was tried."""


def _shorten(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
