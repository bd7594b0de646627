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
