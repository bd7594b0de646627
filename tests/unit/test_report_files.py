"""Report files: atomic replacement, and the page-cache hints that keep gigabytes of CSV from
crowding out everything else (DropBehind). The hints are checked through the calls they make:
their effect, pages leaving the cache, is the kernel's business and not visible from Python."""

from __future__ import annotations

import os

import pytest

from reports.files import DropBehind, DropBehindFiles, atomic_output_path


@pytest.fixture
def hints(monkeypatch):
    calls: list[tuple[str, int, int]] = []

    def record(descriptor, offset, length, advice):
        assert advice == os.POSIX_FADV_DONTNEED
        calls.append((os.readlink(f"/proc/self/fd/{descriptor}"), offset, length))

    monkeypatch.setattr(os, "posix_fadvise", record, raising=False)
    return calls


def test_an_interrupted_write_leaves_the_previous_file(tmp_path):
    target = tmp_path / "report.csv"
    target.write_text("previous\n")
    with pytest.raises(RuntimeError):
        with atomic_output_path(target) as temp_path:
            temp_path.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "previous\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.csv"]


def test_a_long_file_is_handed_to_writeback_and_dropped_a_window_behind(tmp_path, hints):
    path = tmp_path / "lines.csv"
    with path.open("wb") as handle:
        drop_behind = DropBehind(handle, window=250)
        for _ in range(10):
            handle.write(b"x" * 99 + b"\n")
            drop_behind.wrote()
    # at 300 bytes: [0, 300) to writeback; at 600: [0, 300) dropped and [300, 600) to writeback;
    # at 900: [300, 600) dropped, [600, 900) to writeback; 1000 is less than a window further
    assert hints == [(str(path), 0, 300), (str(path), 0, 600), (str(path), 300, 600)]
    assert path.read_bytes() == (b"x" * 99 + b"\n") * 10  # only hints: every byte is there


def test_small_files_are_handed_to_writeback_when_closed_and_dropped_a_window_later(tmp_path, hints):
    drop_behind = DropBehindFiles(window=250)
    paths = [tmp_path / f"bill-{n}.csv" for n in range(6)]
    for path in paths:
        with atomic_output_path(path) as temp_path, temp_path.open("wb") as handle:
            handle.write(b"y" * 100)
            drop_behind.closing(handle, path)
    written_back = [(offset, length) for name, offset, length in hints if name.endswith(".tmp")]
    dropped = [name for name, _, _ in hints if not name.endswith(".tmp")]
    assert written_back == [(0, 0)] * 6  # each whole file as it was closed, under its temporary name
    # windows of 300 bytes: files 0-2 (nothing older to drop), then 3-5, which drops files 0-2
    assert dropped == [str(p) for p in paths[:3]]
    assert all(path.read_bytes() == b"y" * 100 for path in paths)


def test_without_posix_fadvise_nothing_is_hinted(tmp_path, monkeypatch):
    monkeypatch.delattr(os, "posix_fadvise", raising=False)
    path = tmp_path / "lines.csv"
    with path.open("wb") as handle:
        drop_behind = DropBehind(handle, window=10)
        handle.write(b"z" * 100)
        drop_behind.wrote()
        DropBehindFiles(window=10).closing(handle, path)
    assert path.read_bytes() == b"z" * 100
