"""Verification of SDK-HMAC-SHA256 request signatures, as the HUAWEI CLOUD API gateway does it.

The canonical request follows the official SDK's signer (huaweicloudsdkcore; docs/domain.md#signing-and-endpoints):

    METHOD \\n canonical URI \\n canonical query \\n canonical headers \\n signed headers \\n hex(sha256(body))

- canonical URI: every path segment percent-encoded (only `~` kept besides letters, digits and
  `_.-`), always ending with `/`;
- canonical query: `key=value` pairs, both percent-encoded the same way, sorted, joined with `&`;
- canonical headers: `lower-name:trimmed value\\n` for each header named in SignedHeaders;
- payload hash: sha256 of the body bytes (of nothing for an empty body), or the literal value of
  `X-Sdk-Content-Sha256` when the client sent `UNSIGNED-PAYLOAD`.

String to sign: `SDK-HMAC-SHA256\\n{X-Sdk-Date}\\n{hex(sha256(canonical request))}`; the signature
is hex(HMAC-SHA256(secret key, string to sign)).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "x-sdk-date"
CONTENT_HASH_HEADER = "x-sdk-content-sha256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)

_AUTHORIZATION = re.compile(
    r"^SDK-HMAC-SHA256\s+Access=([^,\s]+),\s*SignedHeaders=([^,\s]+),\s*Signature=([0-9a-fA-F]+)\s*$")


class SignatureRejected(Exception):
    """The request is not correctly signed; the message says why (it never contains a secret)."""


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    path: str                     # as received, percent-encoded, without the query
    query: str                    # as received, without the leading '?'
    headers: Mapping[str, str]    # lower-case names → values as sent
    body: bytes


def encode(text: str) -> str:
    return quote(text, safe="~")


def canonical_uri(path: str) -> str:
    uri = "/".join(encode(segment) for segment in unquote(path).split("/"))
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(query: str) -> str:
    """Sorted, uniformly encoded `key=value` pairs of a raw query string."""
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(pairs))


def canonical_request(request: IncomingRequest, signed_headers: list[str], query: str) -> str:
    header_lines = "".join(f"{name}:{request.headers.get(name, '').strip()}\n" for name in signed_headers)
    content_hash = request.headers.get(CONTENT_HASH_HEADER)
    if content_hash != "UNSIGNED-PAYLOAD":
        content_hash = hashlib.sha256(request.body).hexdigest()
    return "\n".join([request.method.upper(), canonical_uri(request.path), query, header_lines,
                      ";".join(signed_headers), content_hash])


def string_to_sign(canonical: str, sdk_date: str) -> str:
    return f"{ALGORITHM}\n{sdk_date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"


def signature(secret_key: str, text: str) -> str:
    return hmac.new(secret_key.encode("utf-8"), text.encode("utf-8"), hashlib.sha256).hexdigest()


def verify(request: IncomingRequest, secret_keys: Mapping[str, str], now: dt.datetime) -> str:
    """The access key of a correctly signed request; raises SignatureRejected otherwise.

    `now` is timezone-aware UTC. A request dated more than 15 minutes away from `now` is rejected
    even when its signature is right (replay protection)."""
    match = _AUTHORIZATION.match(request.headers.get("authorization", ""))
    if match is None:
        raise SignatureRejected("missing or malformed SDK-HMAC-SHA256 Authorization header")
    access_key, signed_list, sent_signature = match.groups()
    secret_key = secret_keys.get(access_key)
    if secret_key is None:
        raise SignatureRejected("unknown access key")
    signed_headers = signed_list.lower().split(";")
    if DATE_HEADER not in signed_headers or "host" not in signed_headers:
        raise SignatureRejected("X-Sdk-Date and Host must be signed")
    missing = [name for name in signed_headers if name not in request.headers]
    if missing:
        raise SignatureRejected(f"signed header(s) not sent: {', '.join(missing)}")
    sdk_date = request.headers[DATE_HEADER].strip()
    try:
        signed_at = dt.datetime.strptime(sdk_date, DATE_FORMAT).replace(tzinfo=dt.UTC)
    except ValueError:
        raise SignatureRejected("X-Sdk-Date is not in the form YYYYMMDDTHHMMSSZ") from None
    if abs(now - signed_at) > MAX_CLOCK_SKEW:
        raise SignatureRejected("X-Sdk-Date is more than 15 minutes away from the server time")
    # The SDK sends its canonical query string as the query itself; other clients may order or
    # encode differently, so the re-canonicalised form is accepted too.
    for query in dict.fromkeys([request.query, canonical_query(request.query)]):
        expected = signature(secret_key, string_to_sign(canonical_request(request, signed_headers, query), sdk_date))
        if hmac.compare_digest(expected, sent_signature.lower()):
            return access_key
    raise SignatureRejected("signature does not match the request")
