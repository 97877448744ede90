"""Scaling of M2m over processes: the sampler's translation and an M2m epoch, 1 vs P.

The command line of :mod:`m2m_sampler.bench.scaling` (which documents what is measured);
results go to ``benchmarks/results/`` unless ``--out`` says otherwise. Usage::

    python benchmarks/scaling.py                          # CPU, 1 and 2 processes
    python benchmarks/scaling.py --device cuda --processes 1 2 4 8 --features 3072 \
        --hidden 1024 1024 --largest 5000 --batch 512 --chunk 1024 --out /tmp/gpu_scaling
"""

from pathlib import Path

from m2m_sampler.bench.scaling import main

if __name__ == "__main__":
    raise SystemExit(main(default_out=str(Path(__file__).parent / "results")))
