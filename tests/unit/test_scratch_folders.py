"""Scratch folders named after their owner process (schemas/scratch.py): those of a process that no
longer runs are removed by the next folder of their kind; nothing else is touched."""

import os
import subprocess
import sys

import pytest

from schemas.scratch import owned_name, remove_abandoned, scratch_folder

PREFIX = "billrecon-test-scratch-"


def ended_pid() -> int:
    """The id of a process that has ended."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True, check=True).stdout)


def test_only_the_folders_of_ended_owners_are_removed(tmp_path):
    dead, alive = tmp_path / f"{PREFIX}{ended_pid()}-aaaa", tmp_path / f"{PREFIX}{os.getpid()}-bbbb"
    unowned, other_kind = tmp_path / f"{PREFIX}x-cccc", tmp_path / f"billrecon-other-{ended_pid()}-dddd"
    a_file = tmp_path / f"{PREFIX}{ended_pid()}-eeee"
    for folder in (dead, alive, unowned, other_kind):
        folder.mkdir()
        (folder / "part.parquet").write_bytes(bytes(100))
    a_file.write_bytes(b"not ours to remove")
    assert remove_abandoned(PREFIX, tmp_path) == [dead]
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(
        path.name for path in (alive, unowned, other_kind, a_file))


def test_a_scratch_folder_is_this_process_s_removed_on_leaving_also_on_an_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)  # read TMPDIR again
    abandoned = tmp_path / f"{PREFIX}{ended_pid()}-ffff"
    abandoned.mkdir()
    with pytest.raises(RuntimeError, match="the pack failed"), scratch_folder(PREFIX) as folder:
        assert folder.parent == tmp_path and folder.name.startswith(f"{PREFIX}{os.getpid()}-")
        assert oct(folder.stat().st_mode & 0o777) == "0o700"
        assert not abandoned.exists()
        (folder / "lines.parquet").write_bytes(bytes(10))
        raise RuntimeError("the pack failed")
    assert list(tmp_path.iterdir()) == []
    assert owned_name(PREFIX) != owned_name(PREFIX)
