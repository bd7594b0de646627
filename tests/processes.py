"""What the tests ask of a process by its pid."""

from pathlib import Path


def is_running(pid: int) -> bool:
    """Whether the process exists and has not ended (a zombie, ended but not yet reaped, has)."""
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False
