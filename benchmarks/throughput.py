"""Translation throughput of the M2m engine against the same model's training throughput.

The command line of :mod:`m2m_sampler.bench.throughput` (which documents what is
measured); results go to ``benchmarks/results/`` unless ``--out`` says otherwise. Usage::

    python benchmarks/throughput.py                      # CPU, writes benchmarks/results/
    python benchmarks/throughput.py --device cuda --out /tmp/gpu
    python benchmarks/throughput.py --device cuda --amp bf16 --channels-last --out /tmp/gpu
"""

from pathlib import Path

from m2m_sampler.bench.throughput import main

if __name__ == "__main__":
    raise SystemExit(main(default_out=str(Path(__file__).parent / "results")))
