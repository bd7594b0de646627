"""Where source files come from: an S3-compatible bucket (HUAWEI OBS) or a local inbox folder."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from pipelines.lib.failures import ActionableError


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    etag: str
    size: int
    last_modified: datetime | None


class ObjectStore(Protocol):
    uri: str

    def list(self, prefix: str) -> list[ObjectInfo]: ...

    def identities(self, prefix: str) -> list[tuple[str, str, int]]:
        """(key, what identifies its content, size) of every object under `prefix`, cheaply: what a
        run compares to tell that nothing changed (pipelines/lib/rerun.py)."""
        ...

    def download(self, key: str, dest: Path) -> None: ...


class SourceUnreachable(ActionableError):
    """The file source cannot be reached: the bucket's endpoint does not answer (refused, unknown host,
    timed out, connection dropped), or the inbox folder is missing."""


class SourceRefused(ActionableError):
    """The bucket's endpoint answers but refuses the run: no such bucket, an access key id it does not
    know, a secret that does not match, keys without the permission; or an object listed a moment ago
    is gone; a clock the server finds off, a bucket of another region; a server that keeps failing. Mostly
    the settings are to fix (or the bucket's permissions), not the network."""


# the OS's reason inside urllib3's and botocore's messages: `... [Errno 111] Connection refused`
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


@dataclass(frozen=True)
class S3Settings:
    """Where the user sets the bucket's endpoint, name and keys (the BILLRECON_* variables, or an account's
    [partner.files] in partners.toml), for the line of a failure."""

    endpoint: str
    bucket: str
    access_key: str
    secret_key: str
    keys: str  # the two keys at once


BILLRECON_S3 = S3Settings("BILLRECON_S3_ENDPOINT", "BILLRECON_S3_BUCKET", "BILLRECON_S3_ACCESS_KEY",
                          "BILLRECON_S3_SECRET_KEY", "BILLRECON_S3_ACCESS_KEY and BILLRECON_S3_SECRET_KEY")


# S3 error codes (OBS answers the same ones) by what the user does about them. An answer to HEAD has no
# body, so no code: only its HTTP status, which botocore gives as the code ("403", "404").
_NO_BUCKET = {"NoSuchBucket", "InvalidBucketName"}
_UNKNOWN_KEY = {"InvalidAccessKeyId"}
_WRONG_SECRET = {"SignatureDoesNotMatch"}
_DENIED = {"AccessDenied", "AllAccessDisabled"}
_GONE = {"NoSuchKey", "404"}
_CLOCK = {"RequestTimeTooSkewed"}
# the bucket lives in another region or behind another host name than the endpoint given
_ELSEWHERE = {"PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "301"}
# the server's own trouble, still there after boto3's retries
_SERVER_TROUBLE = {"InternalError", "ServiceUnavailable", "SlowDown", "503", "500"}
_UNCHANGED = "then run again (no month was changed)"


class S3ObjectStore:
    """A bucket reached over the S3 API with boto3, exactly as OBS is reached in production."""

    def __init__(self, endpoint_url: str, bucket: str, access_key: str, secret_key: str,
                 region: str = "ap-southeast-1", settings: S3Settings = BILLRECON_S3):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.settings = settings  # where the user fixes the endpoint, bucket and keys, for the failure's line
        self.uri = f"s3://{bucket}"
        self._client = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name=region,
            config=Config(
                s3={"addressing_style": "path"},
                # OBS and other S3-compatible stores may reject the CRC32 headers boto3 adds by default
                request_checksum_calculation="when_required",
                response_checksum_validation="when_required",
                retries={"max_attempts": 5, "mode": "standard"},
            ),
        )

    def list(self, prefix: str) -> list[ObjectInfo]:
        found: list[ObjectInfo] = []
        paginator = self._client.get_paginator("list_objects_v2")
        with self._reaching():
            for page in paginator.paginate(Bucket=self.bucket, Prefix=prefix):
                for item in page.get("Contents", []):
                    found.append(ObjectInfo(item["Key"], item["ETag"].strip('"'), item["Size"],
                                            item.get("LastModified")))
        return sorted(found, key=lambda o: o.key)

    def identities(self, prefix: str) -> list[tuple[str, str, int]]:
        """(key, ETag, size) of every object under `prefix`."""
        return [(info.key, info.etag, info.size) for info in self.list(prefix)]

    def download(self, key: str, dest: Path) -> None:
        with self._reaching(key):
            self._client.download_file(self.bucket, key, str(dest))

    @contextlib.contextmanager
    def _reaching(self, key: str | None = None) -> Iterator[None]:
        """An endpoint that does not answer (after boto3's own retries), or that refuses the bucket or
        the keys, is said in one line, the same for every step that tried it, with what to check.
        `key`: the object being read, named in the log (each step reads another)."""
        from botocore.exceptions import ClientError, HTTPClientError
        from botocore.exceptions import ConnectionError as NoConnection

        try:
            yield
        except (NoConnection, HTTPClientError) as exc:
            found = _OS_REASON.search(f"{exc} {exc.kwargs.get('error', '')}")
            reason = found.group(1).strip() if found else type(exc).__name__
            raise SourceUnreachable(
                f"cannot reach the S3 endpoint {self.endpoint_url} ({reason}): check {self.settings.endpoint} "
                "and that the server is up and reachable from here, then run again (the month keeps the files "
                "landed before)") from exc
        except ClientError as exc:
            line = self.refusal(exc)
            if line is None:
                raise
            if key is not None:
                exc.add_note(f"reading {key} from the bucket {self.bucket}")
            raise SourceRefused(line) from exc

    def refusal(self, error) -> str | None:
        """The one line for an answer of the endpoint that refuses the bucket or the keys (a botocore
        ClientError); None for any other answer. It names where the keys are set, never their values."""
        code = str(error.response.get("Error", {}).get("Code", ""))
        reading = error.operation_name in ("GetObject", "HeadObject")
        endpoint, bucket, named = self.endpoint_url, self.bucket, self.settings
        if code in _NO_BUCKET:
            return (f"there is no bucket {bucket} at {endpoint} ({code}): check {named.bucket} "
                    f"(and {named.endpoint}), {_UNCHANGED}")
        if code in _UNKNOWN_KEY:
            return (f"the S3 endpoint {endpoint} does not know the access key id of {named.access_key} ({code}): "
                    f"set {named.keys} to the keys of an account that may read the bucket {bucket}, {_UNCHANGED}")
        if code in _WRONG_SECRET:
            return (f"the S3 endpoint {endpoint} rejected the signature of the requests to the bucket {bucket} "
                    f"({code}): {named.secret_key} is not the secret of the access key id of {named.access_key}; "
                    f"set the two keys of one account, {_UNCHANGED}")
        if code in _DENIED:
            action = "read the objects of" if reading else "list"
            return (f"the keys of {named.access_key} may not {action} the bucket {bucket} at {endpoint} ({code}): "
                    f"give their account the right to list the bucket and read its objects, or set {named.keys} "
                    f"to the keys of an account that has it, {_UNCHANGED}")
        if code == "403" and reading:
            return (f"the S3 endpoint {endpoint} refused to read the objects of the bucket {bucket} (HTTP 403, no "
                    f"reason given): check {named.keys} and that their account may read the bucket, {_UNCHANGED}")
        if code in _CLOCK:
            return (f"the S3 endpoint {endpoint} refused the requests because this machine's clock is off ({code}): "
                    f"set the clock right (NTP), {_UNCHANGED}")
        if code in _ELSEWHERE:
            return (f"the bucket {bucket} is not served at {endpoint} ({code}): set {named.endpoint} to the endpoint "
                    f"of the bucket's region, {_UNCHANGED}")
        if code in _SERVER_TROUBLE:
            return (f"the S3 endpoint {endpoint} failed to answer for the bucket {bucket} ({code}, after retries): "
                    "a fault on the server's side; run again later (the month keeps the files landed before)")
        if code in _GONE and reading:
            return (f"an object listed in the bucket {bucket} at {endpoint} was gone when the run read it ({code}): "
                    "it was removed meanwhile; run again (the month keeps the files landed before)")
        return None


class InboxObjectStore:
    """A local folder with the bucket's key layout, for partners who sync files another way."""

    def __init__(self, root: str | Path, setting: str = "BILLRECON_INBOX_DIR"):
        self.root = Path(root)
        self.uri = f"file://{self.root.name}"
        if not self.root.is_dir():  # `billrecon run` refuses it up front; this is a run Dagster started
            raise SourceUnreachable(f"{setting} {self.root} is not a folder: give the folder the files arrive in "
                                    "(the bucket's key layout), then run again")

    def list(self, prefix: str) -> list[ObjectInfo]:
        found = []
        for key, path, stat in self._files(prefix):
            # a file's content identity plays the ETag's part: same bytes, same tag
            tag = _content_tag(str(path), stat.st_ino, stat.st_size, stat.st_mtime_ns)
            found.append(ObjectInfo(key, tag, stat.st_size, datetime.fromtimestamp(stat.st_mtime, tz=UTC)))
        return found

    def identities(self, prefix: str) -> list[tuple[str, str, int]]:
        """(key, identity, size) of every file under `prefix`, without reading it: its inode and its
        modification and change times. Any write or replacement of a file changes its change time,
        which no program can set back, so an unchanged identity is an unchanged file; the one blind
        spot is a file rewritten in place to the same size within one tick of the kernel's clock
        (a few milliseconds) of the listing (a file replaced by rename gets a new inode)."""
        return [(key, f"{stat.st_ino}:{stat.st_mtime_ns}:{stat.st_ctime_ns}", stat.st_size)
                for key, path, stat in self._files(prefix)]

    def _files(self, prefix: str) -> Iterator[tuple[str, Path, os.stat_result]]:
        for path in sorted(self.root.rglob("*")):
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix) and path.is_file():
                yield key, path, path.stat()

    def download(self, key: str, dest: Path) -> None:
        shutil.copyfile(self.root / key, dest)


class PrefixedObjectStore:
    """One account's part of a shared bucket or folder: every key it lists or reads is under `prefix`.

    The keys it hands out are relative to the prefix, so a run sees the same key layout (and records
    the same object keys) whatever prefix its account's files live under."""

    def __init__(self, store: ObjectStore, prefix: str):
        self._store = store
        self.prefix = normalise_prefix(prefix)
        self.uri = f"{store.uri}/{self.prefix}"

    def list(self, prefix: str) -> list[ObjectInfo]:
        return [ObjectInfo(info.key[len(self.prefix):], info.etag, info.size, info.last_modified)
                for info in self._store.list(self.prefix + prefix)]

    def identities(self, prefix: str) -> list[tuple[str, str, int]]:
        return [(key[len(self.prefix):], identity, size)
                for key, identity, size in self._store.identities(self.prefix + prefix)]

    def download(self, key: str, dest: Path) -> None:
        self._store.download(self.prefix + key, dest)


def normalise_prefix(prefix: str) -> str:
    """`acme` and `/acme/` both mean the folder `acme/`: a prefix without its slash would also match
    the keys of a neighbouring `acme2/`."""
    stripped = prefix.strip("/")
    return f"{stripped}/" if stripped else ""


@functools.lru_cache(maxsize=4096)
def _content_tag(path: str, inode: int, size: int, mtime_ns: int) -> str:
    """The file's sha256 prefix, hashed once per process for an unchanged file (same inode, size and
    modification time): a run lists the inbox several times, and a month's archive is a gigabyte."""
    return file_sha256(Path(path))[:32]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
