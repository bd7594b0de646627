"""Child-process side of a measured step: `python -m bench.child STEP ARGS_JSON RESULT_JSON`.

The parent (`bench.measure`) starts one fresh interpreter per step so that the peak resident
memory the OS reports for that process belongs to that step alone. Here the step's module is
imported, then the step function runs once; its wall time is taken around the call only
(interpreter start-up and imports excluded; the parent records the whole process time too).
The step returns a JSON-able dict that is written, with the time, to RESULT_JSON.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
import traceback
from pathlib import Path

# step name → "module:function"; each function takes the ARGS_JSON dict and returns a dict
STEPS = {
    "generate": "bench.generate:generate_step",
    "floor": "bench.floor:floor_step",
    "billrecon": "bench.pipeline:billrecon_step",
    "noop": "bench.pipeline:noop_step",
    "pandas": "bench.pandas_mart:pandas_step",
    "verify": "bench.pandas_mart:verify_step",
    "phases": "bench.profile:phases_step",
    "profile": "bench.profile:profile_step",
}


def main(argv: list[str]) -> int:
    step, args_json, result_path = argv
    started_imports = time.perf_counter()
    module_name, function_name = STEPS[step].split(":")
    function = getattr(importlib.import_module(module_name), function_name)
    import_seconds = time.perf_counter() - started_imports
    args = json.loads(args_json)
    started = time.perf_counter()
    try:
        result = function(args)
    except Exception as exc:  # the parent reports the failure and goes on with the other steps
        traceback.print_exc()
        outcome = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    else:
        outcome = {"ok": True, "result": result}
    outcome["seconds"] = time.perf_counter() - started
    outcome["import_seconds"] = import_seconds
    Path(result_path).write_text(json.dumps(outcome, indent=2, default=str), encoding="utf-8")
    return 0 if outcome["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
