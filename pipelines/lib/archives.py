"""Reading tar.gz deliveries as streams, member by member, without extracting anything to disk."""

from __future__ import annotations

import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from isal import isal_zlib

from pipelines.lib.rejections import rule_for

# A member larger than this is refused before it is read (a decompression bomb stops here).
DEFAULT_MAX_MEMBER_BYTES = 1 << 30
READ_BUFFER = 1 << 20  # compressed bytes per inflate call, which runs with the GIL released
# Inflated bytes per inflate call, at most: deflate inflates up to 1032 times, so without a cap one
# call on 1 MiB of a bomb would hold a gigabyte. ISA-L allocates the whole cap for every call:
# 8 MiB cost it more system time (fresh pages) than the inflating itself saved (bench/README.md).
INFLATE_CHUNK = 1 << 20
# A PAX or GNU long-name header holds a name and a few attributes; one larger than this is not a
# header of a bill archive, and reading it whole would let its stated size decide the memory used.
MAX_HEADER_RECORD_BYTES = 1 << 20
BLOCK = tarfile.BLOCKSIZE
GZIP_MAGIC = b"\x1f\x8b"


class ArchiveRejected(Exception):
    """The archive as a whole cannot be read; nothing from it is loaded. The message says the cause;
    staging adds the rule's action (`rejections.with_action`), as it does for a refused member's `problem`."""

    def __init__(self, rule_id: str, message: str):
        super().__init__(message)
        self.rule_id = rule_id


@dataclass(frozen=True)
class Member:
    name: str                   # unique within the archive (see `_unique_name`), printable
    data: bytes | None          # None when the member was refused
    rule_id: str | None = None  # why it was refused
    problem: str | None = None
    warning: str | None = None  # about the name: not UTF-8, or not the only member with it


def iter_csv_members(path: Path, max_member_bytes: int = DEFAULT_MAX_MEMBER_BYTES) -> Iterator[Member]:
    """Yield each member of a gzip tarball in archive order; unsafe or oversized members are refused.

    The tar stream is walked here rather than through `tarfile`'s stream mode, which copies each
    member three times on its way out (joined, sliced, copied into a reader's buffer), all while
    holding the GIL the parsing threads need (the measurements are in bench/README.md). `tarfile`
    still parses every header block."""
    if path.stat().st_size == 0:
        raise ArchiveRejected(rule_for("file", "empty_object"), "the object is empty (0 bytes)")
    try:
        with path.open("rb") as handle:
            stream = _InflatedStream(handle)
            names: set[str] = set()
            while (info := _next_header(stream)) is not None:
                name, warning = _unique_name(info.name, names)
                refused = _refusal(info, max_member_bytes)
                if info.isreg() or info.type not in tarfile.SUPPORTED_TYPES:
                    # regular (and unknown) types carry data; links, folders and devices do not
                    data = stream.read(info.size, keep=refused is None)
                    stream.read(_padding(info.size), keep=False)
                else:
                    data = b""
                yield (Member(name, None, *refused, warning=warning) if refused
                       else Member(name, data, warning=warning))
            if not names:
                raise EOFError("the archive holds no member")
            stream.drain()  # to the gzip trailer, whose checksum covers every byte read
    except (tarfile.HeaderError, EOFError, isal_zlib.error, ValueError, OSError) as exc:
        kind = "gzip" if isinstance(exc, isal_zlib.error) else type(exc).__name__
        raise ArchiveRejected(
            rule_for("file", "corrupt_archive"),
            f"not a readable gzip tar archive ({kind}: {exc})",
        ) from exc


class _InflatedStream:
    """The archive's tar bytes, inflated from the gzip file as they are read. Concatenated gzip
    members (what parallel compressors may write) are read one after the other, as gzip does.

    Inflated by ISA-L (`isal_zlib`, zlib's interface and the same bytes, the gzip trailer's CRC and
    length checked as zlib checks them), two to three times faster than zlib on a bill file."""

    def __init__(self, handle: BinaryIO):
        self._handle = handle
        self._inflater = isal_zlib.decompressobj(wbits=31)  # gzip framing; the trailer's CRC is checked
        self._chunk = b""
        self._offset = 0

    def read(self, size: int, keep: bool = True) -> bytes:
        """The next `size` bytes (EOFError if the archive ends first); with `keep=False` they are
        skipped and b"" returned. Bytes spanning several inflated chunks are copied once."""
        parts: list[memoryview] = []
        wanted = size
        while wanted:
            available = len(self._chunk) - self._offset
            if not available:
                if not self._inflate_more():
                    raise EOFError(f"the archive ends {wanted} bytes before the member or block does")
                continue
            take = min(available, wanted)
            if keep:
                parts.append(memoryview(self._chunk)[self._offset:self._offset + take])
            self._offset += take
            wanted -= take
        if not keep:
            return b""
        return b"".join(parts)

    def drain(self) -> None:
        """Inflate whatever is left (the tar's end blocks and padding), checking the gzip trailers."""
        while self._inflate_more():
            self._offset = len(self._chunk)

    def at_end(self) -> bool:
        """True when every byte has been read (the tar stream stopped without an end block)."""
        return self._offset == len(self._chunk) and not self._inflate_more()

    def _inflate_more(self) -> bool:
        while True:
            if self._inflater.unconsumed_tail:  # what the last call left uninflated, under the cap
                compressed = self._inflater.unconsumed_tail
            elif self._inflater.eof:
                rest = self._inflater.unused_data + self._handle.read(len(GZIP_MAGIC))
                if not rest.startswith(GZIP_MAGIC):
                    return False  # what follows the last gzip member is not read (as tarfile did)
                self._inflater = isal_zlib.decompressobj(wbits=31)
                compressed = rest
            else:
                compressed = self._handle.read(READ_BUFFER)
                if not compressed:
                    raise EOFError("the gzip stream ends before its end marker (a truncated file)")
            chunk = self._inflater.decompress(compressed, INFLATE_CHUNK)
            if chunk:
                self._chunk, self._offset = chunk, 0
                return True


def _next_header(stream: _InflatedStream) -> tarfile.TarInfo | None:
    """The next member's header, with a GNU long name or a PAX path/size applied; None at the end."""
    long_name: str | None = None
    pax: dict[str, str] = {}
    while True:
        if stream.at_end():
            return None  # no end-of-archive blocks: tar tolerates it, and so did tarfile
        block = stream.read(BLOCK)
        try:
            info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.EOFHeaderError:
            return None  # a zero block ends the archive
        if info.size < 0:  # base-256 sizes can be negative; tarfile does not object
            raise ValueError(f"a header states a negative size ({info.size})")
        if info.type in _HEADER_RECORD_TYPES and info.size > MAX_HEADER_RECORD_BYTES:
            raise ValueError(f"an extended header of {info.size} bytes, more than the "
                             f"{MAX_HEADER_RECORD_BYTES} a member name needs")
        if info.type in (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
            value = stream.read(info.size)
            stream.read(_padding(info.size), keep=False)
            if info.type == tarfile.GNUTYPE_LONGNAME:
                long_name = value.rstrip(b"\0").decode("utf-8", "surrogateescape")
            continue
        if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.SOLARIS_XHDTYPE):
            records = stream.read(info.size)
            stream.read(_padding(info.size), keep=False)
            if info.type != tarfile.XGLTYPE:  # a global header's defaults name no member
                pax.update(_pax_records(records))
            continue
        if info.type == tarfile.GNUTYPE_SPARSE and block[482]:
            extension = stream.read(BLOCK)  # old GNU sparse maps continue in extension blocks
            while extension[504]:
                extension = stream.read(BLOCK)
        if long_name is not None:
            info.name = long_name
        if "path" in pax:
            info.name = pax["path"]
        if "size" in pax:
            if not pax["size"].isascii() or not pax["size"].isdigit():
                raise ValueError(f"a PAX header states the size '{pax['size']}'")
            info.size = int(pax["size"])
        return info


_HEADER_RECORD_TYPES = (tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK, tarfile.XHDTYPE, tarfile.XGLTYPE,
                        tarfile.SOLARIS_XHDTYPE)


def _unique_name(raw: str, taken: set[str]) -> tuple[str, str | None]:
    """The member's name as recorded everywhere (staging lineage, audit rows, reports), and a warning.

    A name that is not UTF-8 shows its bytes as \\x escapes, and control characters are escaped, so
    every name can be stored and printed. A name already taken in this archive (a tar may hold
    two members of one name) gets " (#2)", " (#3)", … in archive order: each member is then
    counted on its own, and its lines are checked against every other member's for duplicates."""
    encoded = raw.encode("utf-8", "surrogateescape")
    name = encoded.decode("utf-8", "backslashreplace")
    warnings = []
    if name != raw:
        warnings.append("the member name is not UTF-8 (its bytes are shown as \\x escapes)")
    printable = "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in name)
    if printable != name:
        warnings.append("the member name holds control characters (shown escaped)")
    unique, copy = printable, 1
    while unique in taken:
        copy += 1
        unique = f"{printable} (#{copy})"
    if copy > 1:
        warnings.append(f"the archive holds more than one member named '{printable}'; this one is recorded as "
                        f"'{unique}': its lines load, and a line identical to one already delivered is "
                        f"quarantined as a duplicate")
    taken.add(unique)
    return unique, "; ".join(warnings) or None


def _pax_records(data: bytes) -> dict[str, str]:
    """PAX extended header records: "<length> <key>=<value>\n", the length counting the whole record."""
    records: dict[str, str] = {}
    position = 0
    while position < len(data) and data[position:position + 1] != b"\0":
        space = data.index(b" ", position)
        length = int(data[position:space])
        if length <= space - position + 1 or data[position + length - 1:position + length] != b"\n":
            raise ValueError(f"malformed PAX record at byte {position}")
        key, equals, value = data[space + 1:position + length - 1].partition(b"=")
        if not equals:
            raise ValueError(f"malformed PAX record at byte {position}")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        position += length
    return records


def _padding(size: int) -> int:
    return -size % BLOCK


def _refusal(info: tarfile.TarInfo, max_member_bytes: int) -> tuple[str, str] | None:
    name = PurePosixPath(info.name)
    if name.is_absolute() or ".." in name.parts:
        return rule_for("file", "unsafe_member_path"), f"member path '{info.name}' is absolute or leaves the archive"
    if info.type == tarfile.GNUTYPE_SPARSE:
        return rule_for("file", "not_csv"), "member is a sparse file, not a CSV file"
    if not info.isfile():
        if info.isdir():
            return rule_for("file", "not_csv"), "member is a directory, not a CSV file"
        return rule_for("file", "not_csv"), "member is a link or special file, not a CSV file"
    if name.suffix.lower() != ".csv":
        return rule_for("file", "not_csv"), f"member '{info.name}' is not a .csv file"
    return size_refusal(info.size, max_member_bytes)


# A size refusal's cause starts with the member's size, read back from audit.quarantine to stage the
# delivery again once BILLRECON_MAX_MEMBER_BYTES admits it (staging.audit_rows.limits_now_admit_a_refusal).
REFUSED_SIZE_PATTERN = r"^member is (\d+) bytes"


def size_refusal(size: int, max_member_bytes: int) -> tuple[str, str] | None:
    """(rule id, problem) when a member or a plain CSV object is too large to be read into memory."""
    if size > max_member_bytes:
        return rule_for("file", "member_too_large"), f"member is {size} bytes, more than the {max_member_bytes} allowed"
    return None
