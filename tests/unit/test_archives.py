"""Reading tar.gz deliveries: broken archives and unsafe members are refused with a reason."""

import gzip
import io
import tarfile

import pytest

from pipelines.lib.archives import ArchiveRejected, iter_csv_members
from tests.fixtures.bill_files import write_archive


def test_members_are_read_in_order(tmp_path):
    path = write_archive(tmp_path / "a.tar.gz", {"m_0001.csv": b"x\n1\n", "m_0002.csv": b"x\n2\n"})
    members = list(iter_csv_members(path))
    assert [(m.name, m.data) for m in members] == [("m_0001.csv", b"x\n1\n"), ("m_0002.csv", b"x\n2\n")]


def test_zero_byte_object_is_rejected(tmp_path):
    path = tmp_path / "empty.tar.gz"
    path.write_bytes(b"")
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert caught.value.rule_id == "FILE.EMPTY_OBJECT"


def test_corrupt_gzip_is_rejected(tmp_path):
    path = tmp_path / "bad.tar.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage-not-deflate" * 10)
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert caught.value.rule_id == "FILE.CORRUPT_ARCHIVE"


def test_truncated_tar_is_rejected(tmp_path):
    whole = write_archive(tmp_path / "whole.tar.gz", {"m_0001.csv": b"x\n" + b"1\n" * 50_000}).read_bytes()
    raw = gzip.decompress(whole)
    path = tmp_path / "cut.tar.gz"
    path.write_bytes(gzip.compress(raw[: len(raw) // 3]))
    with pytest.raises(ArchiveRejected):
        list(iter_csv_members(path))


def test_unsafe_and_non_csv_members_are_refused_but_others_read(tmp_path):
    path = write_archive(tmp_path / "mixed.tar.gz", {
        "../escape.csv": b"x\n1\n", "/etc/abs.csv": b"x\n1\n", "notes.txt": b"hello", "good.csv": b"x\n1\n",
    })
    members = {m.name: m for m in iter_csv_members(path)}
    assert members["../escape.csv"].rule_id == "FILE.UNSAFE_MEMBER_PATH" and members["../escape.csv"].data is None
    assert members["/etc/abs.csv"].rule_id == "FILE.UNSAFE_MEMBER_PATH"
    assert members["notes.txt"].rule_id == "FILE.NOT_CSV"
    assert members["good.csv"].data == b"x\n1\n"


def test_oversized_member_is_refused_before_reading(tmp_path):
    path = write_archive(tmp_path / "big.tar.gz", {"big.csv": b"x\n" + b"1\n" * 1000})
    (member,) = list(iter_csv_members(path, max_member_bytes=100))
    assert member.rule_id == "FILE.MEMBER_TOO_LARGE" and member.data is None


def _tar_bytes(entries: list[tuple[tarfile.TarInfo, bytes]], format: int = tarfile.PAX_FORMAT) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=format) as archive:
        for info, data in entries:
            archive.addfile(info, io.BytesIO(data) if data else None)
    return buffer.getvalue()


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, data


@pytest.mark.parametrize("format", [tarfile.PAX_FORMAT, tarfile.GNU_FORMAT])
def test_long_member_names_are_read_in_pax_and_gnu_archives(tmp_path, format):
    long_name = "customerBill/" + "x" * 120 + "_0001.csv"  # over the 100 bytes of a plain header
    path = tmp_path / "long.tar.gz"
    path.write_bytes(gzip.compress(_tar_bytes([_file(long_name, b"x\n1\n"), _file("m_0002.csv", b"x\n2\n")],
                                              format)))
    assert [(m.name, m.data) for m in iter_csv_members(path)] == [(long_name, b"x\n1\n"), ("m_0002.csv", b"x\n2\n")]


def test_members_spanning_many_inflated_chunks_come_out_whole(tmp_path):
    big = b"x\n" + b"".join(b"%08d\n" % i for i in range(400_000))  # 3.6 MB: several zlib outputs
    path = write_archive(tmp_path / "big.tar.gz", {"a.csv": big, "b.csv": b"x\n2\n"})
    assert [(m.name, m.data) for m in iter_csv_members(path)] == [("a.csv", big), ("b.csv", b"x\n2\n")]


def test_concatenated_gzip_members_are_read_as_one_stream(tmp_path):
    raw = _tar_bytes([_file("m_0001.csv", b"x\n1\n" * 300), _file("m_0002.csv", b"x\n2\n")])
    path = tmp_path / "multi.tar.gz"
    path.write_bytes(gzip.compress(raw[:700]) + gzip.compress(raw[700:]))  # cut inside the first member
    assert [(m.name, m.data) for m in iter_csv_members(path)] == [
        ("m_0001.csv", b"x\n1\n" * 300), ("m_0002.csv", b"x\n2\n")]


def test_links_folders_and_sparse_files_are_refused_and_the_rest_read(tmp_path):
    folder = tarfile.TarInfo("sub")
    folder.type = tarfile.DIRTYPE
    link = tarfile.TarInfo("link.csv")
    link.type, link.linkname = tarfile.SYMTYPE, "m_0001.csv"
    sparse, sparse_data = _file("holes.csv", b"x\n" * 300)
    sparse.type = tarfile.GNUTYPE_SPARSE
    path = tmp_path / "kinds.tar.gz"
    path.write_bytes(gzip.compress(_tar_bytes(
        [(folder, b""), (link, b""), (sparse, sparse_data), _file("m_0001.csv", b"x\n1\n")], tarfile.GNU_FORMAT)))
    members = [(m.name, m.rule_id, m.problem, m.data) for m in iter_csv_members(path)]
    assert members == [
        ("sub", "FILE.NOT_CSV", "member is a directory, not a CSV file", None),
        ("link.csv", "FILE.NOT_CSV", "member is a link or special file, not a CSV file", None),
        ("holes.csv", "FILE.NOT_CSV", "member is a sparse file, not a CSV file", None),
        ("m_0001.csv", None, None, b"x\n1\n"),
    ]


def test_a_damaged_byte_is_caught_by_the_gzip_checksum(tmp_path):
    # stored (level 0) deflate: a flipped byte in the member's text still inflates, so only the
    # trailer's CRC can tell; the archive is refused even though every member parsed
    raw = _tar_bytes([_file("m_0001.csv", b"x\n1\n" * 100)])
    damaged = bytearray(gzip.compress(raw, compresslevel=0, mtime=0))
    text_at = 10 + 5 + 512 + 100  # gzip header, stored-block header, tar header, into the text
    assert damaged[text_at:text_at + 4] in (b"x\n1\n", b"\n1\nx", b"1\nx\n", b"\nx\n1")
    damaged[text_at] ^= 0x01
    path = tmp_path / "flipped.tar.gz"
    path.write_bytes(bytes(damaged))
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert caught.value.rule_id == "FILE.CORRUPT_ARCHIVE"
    assert "not a readable gzip tar archive (gzip: Error -6 Incorrect checksum found)" in str(caught.value)


def test_an_archive_without_members_is_rejected(tmp_path):
    path = tmp_path / "hollow.tar.gz"
    path.write_bytes(gzip.compress(_tar_bytes([])))
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert caught.value.rule_id == "FILE.CORRUPT_ARCHIVE"
    assert "the archive holds no member" in str(caught.value)


def test_a_tar_without_end_blocks_still_reads(tmp_path):
    raw = _tar_bytes([_file("m_0001.csv", b"x\n1\n")])
    path = tmp_path / "open-ended.tar.gz"
    path.write_bytes(gzip.compress(raw[:1024]))  # header + one data block, no zero blocks
    assert [(m.name, m.data) for m in iter_csv_members(path)] == [("m_0001.csv", b"x\n1\n")]


def test_a_malformed_pax_header_rejects_the_archive(tmp_path):
    info, data = _file("m_0001.csv", b"x\n1\n")
    raw = bytearray(_tar_bytes([(info, data)], tarfile.PAX_FORMAT))
    pax = tarfile.TarInfo("pax")
    pax.type = tarfile.XHDTYPE
    records = b"99 path=broken.csv\n"  # the length says 99 bytes, the record has 19
    pax.size = len(records)
    header = pax.tobuf(tarfile.USTAR_FORMAT) + records + b"\0" * (-len(records) % 512)
    path = tmp_path / "badpax.tar.gz"
    path.write_bytes(gzip.compress(header + bytes(raw)))
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert "malformed PAX record" in str(caught.value)


def test_a_negative_member_size_rejects_the_archive(tmp_path):
    info, data = _file("m_0001.csv", b"x\n1\n")
    block = bytearray(info.tobuf(tarfile.GNU_FORMAT))
    block[124:136] = b"\xff" * 12  # base-256: -1 (tarfile reads it without objecting)
    block[148:156] = b"%06o\0 " % (sum(block[:148]) + 8 * 32 + sum(block[156:]))  # the checksum again
    path = tmp_path / "negative.tar.gz"
    path.write_bytes(gzip.compress(bytes(block) + data + bytes(508) + bytes(1024)))
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert caught.value.rule_id == "FILE.CORRUPT_ARCHIVE" and "negative size (-1)" in str(caught.value)


def test_an_extended_header_larger_than_a_name_needs_rejects_the_archive_unread(tmp_path):
    pax = tarfile.TarInfo("pax")
    pax.type = tarfile.XHDTYPE
    pax.size = 1 << 40  # a terabyte of "attributes": reading it whole would decide the memory used
    path = tmp_path / "hugepax.tar.gz"
    path.write_bytes(gzip.compress(pax.tobuf(tarfile.GNU_FORMAT) + bytes(4096)))
    with pytest.raises(ArchiveRejected) as caught:
        list(iter_csv_members(path))
    assert f"an extended header of {1 << 40} bytes, more than the 1048576 a member name needs" in str(caught.value)


def test_member_names_are_unique_and_printable_whatever_their_bytes(tmp_path):
    raw = _tar_bytes([_file("a.csv", b"x\n1\n"), _file("a.csv (#2)", b"x\n2\n"), _file("a.csv", b"x\n3\n"),
                      _file("line\nbreak.csv", b"x\n4\n"), _file("\udcff.csv", b"x\n5\n")])
    path = tmp_path / "names.tar.gz"
    path.write_bytes(gzip.compress(raw))
    members = [(m.name, m.data, m.warning) for m in iter_csv_members(path)]
    assert [(name, data) for name, data, _ in members] == [
        # a member really named "a.csv (#2)" (not a .csv name: refused) keeps its name
        ("a.csv", b"x\n1\n"), ("a.csv (#2)", None), ("a.csv (#3)", b"x\n3\n"),
        ("line\\nbreak.csv", b"x\n4\n"), ("\\xff.csv", b"x\n5\n")]
    assert [warning for _, _, warning in members] == [
        None, None,
        "the archive holds more than one member named 'a.csv'; this one is recorded as 'a.csv (#3)': its lines "
        "load, and a line identical to one already delivered is quarantined as a duplicate",
        "the member name holds control characters (shown escaped)",
        "the member name is not UTF-8 (its bytes are shown as \\x escapes)",
    ]
