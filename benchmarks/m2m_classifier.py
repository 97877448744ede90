"""M2MClassifier against the long-tail baselines, with the same MLP and schedule for all.

The command line of :mod:`m2m_sampler.bench.m2m_classifier` (which documents the data
sets, the methods, the tuning and the outputs). Usage::

    nohup python benchmarks/m2m_classifier.py > bench_m2m_classifier.log 2>&1 &
    python benchmarks/m2m_classifier.py --quick          # smoke test, seconds
"""

from m2m_sampler.bench.m2m_classifier import main

if __name__ == "__main__":
    main()
