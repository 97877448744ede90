"""The lab: reproduction and study code for m2m-sampler, beside the library, never shipped.

Importable and runnable from a checkout (the repository root on ``sys.path``, as with
``python -m`` from the root); it imports the library, the library never imports it. Each
study is a command line that writes JSON / Markdown results under
``benchmarks/results/`` with the command that reproduces them:

* :mod:`benchmarks.cifar_lt` -- the CIFAR-LT-10 reproduction of the paper's Table 1
  (``python -m benchmarks.cifar_lt``);
* :mod:`benchmarks.table2` -- the paper's Table 2 (Reuters-21578, Twitter POS) on the CPU,
  with :mod:`benchmarks.table2_diagnosis` and :mod:`benchmarks.table2_precision`;
* :mod:`benchmarks.downstream` -- the offline sampler in front of other models;
* :mod:`benchmarks.m2m_classifier` -- M2MClassifier against the long-tail baselines;
* :mod:`benchmarks.throughput`, :mod:`benchmarks.scaling` -- translation against training
  throughput, and scaling over processes;
* :mod:`benchmarks.tune_m2m`, :mod:`benchmarks.csv_speed`, :mod:`benchmarks.csv_batch_rule`,
  :mod:`benchmarks.cifar_lt_precision` -- tuning and speed studies of ``benchmarks.compare``;
* :mod:`benchmarks.summary` -- the summary of the committed results;
* :mod:`benchmarks.datasets` -- the shared data folder: CIFAR-LT-10 and the tabular sets;
  :mod:`benchmarks.tabular` -- ``python -m benchmarks.compare`` on a shared tabular set;
* :mod:`benchmarks.text_datasets` -- the paper's text data sets and their featurisers;
* :mod:`benchmarks.ranking` -- the studies' choice among validation candidates;
* :mod:`benchmarks.seeding`, :mod:`benchmarks.timing` -- seeds of phases, wall-clock timers.

The lab's tests are in ``benchmarks/tests`` and run with the library's (``python -m pytest``).
"""
