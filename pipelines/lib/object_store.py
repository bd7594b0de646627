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


# the OS's reason inside urllib3's and botocore's messages: `... [Errno 111] Connection refused`
_OS_REASON = re.compile(r"\[Errno -?\d+\] ([^'\")\]]+)")


class S3ObjectStore:
    """A bucket reached over the S3 API with boto3, exactly as OBS is reached in production."""

    def __init__(self, endpoint_url: str, bucket: str, access_key: str, secret_key: str,
                 region: str = "ap-southeast-1", endpoint_setting: str = "BILLRECON_S3_ENDPOINT"):
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        self.endpoint_url = endpoint_url
        self.endpoint_setting = endpoint_setting  # where the user fixes the endpoint, for the failure's line
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
        with self._reaching():
            self._client.download_file(self.bucket, key, str(dest))

    @contextlib.contextmanager
    def _reaching(self) -> Iterator[None]:
        """An endpoint that does not answer (after boto3's own retries) is said in one line, the same
        for every step that tried it, with what to check."""
        from botocore.exceptions import ConnectionError as NoConnection
        from botocore.exceptions import HTTPClientError

        try:
            yield
        except (NoConnection, HTTPClientError) as exc:
            found = _OS_REASON.search(f"{exc} {exc.kwargs.get('error', '')}")
            reason = found.group(1).strip() if found else type(exc).__name__
            raise SourceUnreachable(
                f"cannot reach the S3 endpoint {self.endpoint_url} ({reason}): check {self.endpoint_setting} "
                "and that the server is up and reachable from here, then run again (the month keeps the files "
                "landed before)") from exc


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
