"""The project's own Dagster instance, kept between runs: `billrecon demo` records its runs,
materializations and check results there, and `make dev` serves the same instance, so the UI shows
them (a throwaway instance would leave every partition "missing").

Its folder (DAGSTER_HOME) is `.dagster_home/` in the project folder, ignored by git. The instance
settings are pipelines/dagster.yaml, copied into that folder whenever the demo or `make dev` starts.
They are kept out of the project's root on purpose: `dagster dev` ignores, with a warning, a
dagster.yaml in its working folder that is not DAGSTER_HOME.
"""

from __future__ import annotations

import sys
from pathlib import Path

import dagster as dg

SETTINGS = Path(__file__).with_name("dagster.yaml")
DEFAULT_HOME = Path(".dagster_home")


def prepare_home(home: Path) -> Path:
    """Create `home` if needed and give it the project's instance settings; returns it, absolute."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    settings = SETTINGS.read_bytes()
    if not target.exists() or target.read_bytes() != settings:
        target.write_bytes(settings)
    return home


def project_instance(home: Path = DEFAULT_HOME) -> dg.DagsterInstance:
    """The persistent instance in `home` (the caller disposes of it)."""
    return dg.DagsterInstance.from_config(str(prepare_home(home)))


if __name__ == "__main__":  # `make dev`: prepare the folder it then passes as DAGSTER_HOME
    print(prepare_home(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_HOME))
