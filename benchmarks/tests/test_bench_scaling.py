"""benchmarks.scaling: the efficiency formula and the report (the measurement
itself is a benchmark, run by benchmarks.scaling, not a test)."""

import numpy as np

from benchmarks.scaling import efficiency, synthetic_long_tail, to_markdown


def _result(p, translation, epoch, cpu=1000.0):
    return {
        "processes": p,
        "translation": {"samples_per_s": translation, "rows_per_cpu_s": cpu},
        "m2m_epoch": {"samples_per_s": epoch},
        "m2m_epoch_weak": {"samples_per_s": 2 * epoch},
        "load_before": 1.0,
        "load_after": 1.5,
    }


def test_efficiency_is_throughput_over_processes_times_the_single_process_one():
    results = [_result(2, 1600.0, 900.0), _result(1, 1000.0, 600.0), _result(4, 3000.0, 600.0)]
    assert efficiency(results, "translation") == {2: 0.8, 1: 1.0, 4: 0.75}
    assert efficiency(results, "m2m_epoch") == {2: 0.75, 1: 1.0, 4: 0.25}


def test_synthetic_long_tail_has_ratio_ten():
    X, y = synthetic_long_tail(1000, 8)
    counts = np.bincount(y)
    assert counts[0] == 1000 and counts[-1] == 100 and np.all(np.diff(counts) < 0)
    assert X.shape == (len(y), 8) and X.dtype == np.float32


def test_markdown_report_lists_every_run_with_its_efficiency():
    report = {
        "device": "cpu",
        "command": "python -m benchmarks.scaling",
        "date": "today",
        "note": "shared machine",
        "rows": 10,
        "features": 8,
        "hidden": [16],
        "rounds": 3,
        "launches": 2,
        "results": [_result(1, 1000.0, 600.0), _result(2, 1600.0, 900.0, cpu=950.0)],
        "environment": {"platform": "linux", "cpu_count": 2, "torch": "2", "accelerate": "1"},
    }
    text = to_markdown(report)
    assert "| sampler translation | 2 | 1600 | 0.80 | 1.00 -> 1.50 |" in text
    assert "| M2m training epoch (global batch fixed) | 2 | 900 | 0.75 |" in text
    assert "| 2 | 950 | 0.95 |" in text  # rows per CPU-second, work efficiency
    assert "--device cuda --processes 1 2 4 8" in text
