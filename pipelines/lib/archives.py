"""Reading tar.gz deliveries as streams, member by member, without extracting anything to disk."""

from __future__ import annotations

import gzip
import tarfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Iterator

# A member larger than this is refused before it is read (a decompression bomb stops here).
DEFAULT_MAX_MEMBER_BYTES = 1 << 30
READ_BUFFER = 1 << 20


class ArchiveRejected(Exception):
    """The archive as a whole cannot be read; nothing from it is loaded."""

    def __init__(self, rule_id: str, message: str):
        super().__init__(message)
        self.rule_id = rule_id


@dataclass(frozen=True)
class Member:
    name: str
    data: bytes | None          # None when the member was refused
    rule_id: str | None = None  # why it was refused
    problem: str | None = None


def iter_csv_members(path: Path, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> Iterator[Member]:
    """Yield each member of a gzip tarball in archive order; unsafe or oversized members are refused."""
    if path.stat().st_size == 0:
        raise ArchiveRejected("FILE.EMPTY_OBJECT", "the object is empty (0 bytes); ask for a re-delivery")
    try:
        # 1 MiB reads (tarfile's default is 10 KiB): each read inflates in one zlib call with the
        # GIL released, instead of a hundred calls that each wait for the parsing threads to yield it
        with tarfile.open(path, mode="r|gz", bufsize=READ_BUFFER) as archive:
            for info in archive:
                refused = _refusal(info, max_member_bytes)
                if refused:
                    yield Member(info.name, None, *refused)
                    continue
                handle = archive.extractfile(info)
                data = handle.read(max_member_bytes + 1) if handle else b""
                if len(data) > max_member_bytes:
                    yield Member(info.name, None, "FILE.MEMBER_TOO_LARGE",
                                 f"member is larger than {max_member_bytes} bytes uncompressed")
                    continue
                yield Member(info.name, data)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise ArchiveRejected(
            "FILE.CORRUPT_ARCHIVE",
            f"not a readable gzip tar archive ({type(exc).__name__}: {exc}); ask for a re-delivery",
        ) from exc


def _refusal(info: tarfile.TarInfo, max_member_bytes: int) -> tuple[str, str] | None:
    name = PurePosixPath(info.name)
    if name.is_absolute() or ".." in name.parts:
        return "FILE.UNSAFE_MEMBER_PATH", f"member path '{info.name}' is absolute or leaves the archive"
    if not info.isfile():
        if info.isdir():
            return "FILE.NOT_CSV", "member is a directory, not a CSV file"
        return "FILE.NOT_CSV", "member is a link or special file, not a CSV file"
    if name.suffix.lower() != ".csv":
        return "FILE.NOT_CSV", f"member '{info.name}' is not a .csv file"
    if info.size > max_member_bytes:
        return "FILE.MEMBER_TOO_LARGE", f"member is {info.size} bytes, more than the {max_member_bytes} allowed"
    return None
