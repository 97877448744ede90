"""The public API's outputs equal the golden outputs recorded before the redesign.

``tools/golden_outputs.py`` records and checks them (see its docstring); this test runs
the same cases. Intended changes are listed in ``RENAMED_COLUMNS`` there.
"""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _tool():
    path = ROOT / "tools" / "golden_outputs.py"
    spec = importlib.util.spec_from_file_location("golden_outputs", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_public_outputs_equal_the_recorded_golden_outputs():
    tool = _tool()
    got = tool.compute()
    failures = []
    for name, want in tool.recordings():  # the recording, then other CPU kinds' variants
        rows = tool.compare(got, want)
        # identical up to float round-off at most
        bad = [r for r in rows if r[1] != "identical" and not (r[1] == "differs" and r[2] <= 1e-6)]
        if not bad:
            assert len(rows) == len(want) >= 38
            return
        failures.append((name, bad))
    raise AssertionError(
        f"{failures}: outputs differ from every recording. If the code is unchanged and "
        "this is another kind of CPU, record its variant on a clean checkout: "
        "python tools/golden_outputs.py record --cpu-kind NAME (see its docstring)."
    )
