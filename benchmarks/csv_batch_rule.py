"""The measurement behind the CSV path's batch-size rule (benchmarks.compare.speed_rule).

For each CSV file and seed 0, 1, 2 (the benchmark's stratified split), ERM and
RandomOverSampler pipelines of ``python -m benchmarks.compare`` are trained with tensor batches
(``TrainParams(tensor_loader=True)``) under several (batch size, learning rate, epochs)
settings; one line per fit: data set, seed, setting, method, CPU seconds
(``time.process_time``) and test bACC (%). ``B128fe`` is ``B128`` with Adam's
``foreach=True`` (timing only). The summary (mean over seeds and methods, paired
difference to ``A64``) is in ``benchmarks/results/csv_speed/batch_rule.md``.

Usage::

    python -m benchmarks.csv_batch_rule /work/shared/data/tabular/optdigits.csv
"""

from __future__ import annotations

import sys
import time
import warnings

import torch
from sklearn.metrics import balanced_accuracy_score

from benchmarks.compare import TrainParams, load_bench_data
from benchmarks.compare.methods import MethodContext, build_pipeline

#: name -> (batch size, Adam learning rate, epochs, foreach)
SETTINGS = {
    "A64": (64, 1e-3, 100, False),
    "B128": (128, 1e-3, 100, False),
    "B128fe": (128, 1e-3, 100, True),
    "C128x2": (128, 2e-3, 100, False),
    "D256x4": (256, 4e-3, 100, False),
    "E256x2e50": (256, 2e-3, 50, False),
    "F512x4e50": (512, 4e-3, 50, False),
}


def main(path: str) -> None:
    """Print one line per fit (see the module docstring)."""
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    data = load_bench_data(path, label_column="label")
    for seed in (0, 1, 2):
        split = data.split(seed)
        for name, (batch, lr, epochs, foreach) in SETTINGS.items():
            train = TrainParams(epochs=epochs, batch_size=batch, lr=lr, tensor_loader=True)
            ctx = MethodContext.for_training_set(data, split.y_train, seed, train)
            for method in ("erm", "ros"):
                pipe = build_pipeline(method, ctx)
                if foreach:
                    pipe.named_steps["net"].set_params(optimizer__foreach=True)
                cpu = time.process_time()
                pipe.fit(split.X_train, split.y_train)
                cpu = time.process_time() - cpu
                bacc = balanced_accuracy_score(split.y_test, pipe.predict(split.X_test))
                print(f"{path.split('/')[-1]} {seed} {name} {method} {cpu:.2f} {100 * bacc:.2f}")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        main(p)
