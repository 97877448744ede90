"""The paper's Table 2 (Reuters-21578, Twitter POS) on the CPU: every row, tuned on validation.

``python -m benchmarks.table2 --dataset reuters`` (or ``twitter-pos``) trains, for every
seed, the rows of Table 2 of Kim, Jeong & Shin (CVPR 2020) with one network and one
schedule, and writes ``table2_<dataset>.json`` / ``.md`` / ``.png`` (``--out``).

Data (:mod:`benchmarks.text_datasets`; the test sets are never used for any choice):

* ``reuters``: ModApte, single-topic documents, topics with >= 5 test documents (36
  classes, 6,436 / 2,530 documents, imbalance ratio 710); features: the train-fitted
  :func:`~benchmarks.text_datasets.reuters_vectorizer` (sublinear, L2-normalised TF-IDF)
  with ``--max-features`` terms (default 2,000: the paper does not give its vocabulary,
  and 2,000 terms make a 15-epoch run 5x cheaper than 10,000 on one CPU thread).
* ``twitter-pos``: Oct27 train / test, one sample per token; the 23 tags that occur in
  the test set (the two training tags without a test token, ``M`` (3) and ``Y`` (2), are
  dropped: the paper's ratio ``N_1 / N_K ~ 147.9`` is exactly ``2219 / 15`` for these 23
  tags); features: :func:`~benchmarks.text_datasets.twitter_pos_features` (3,000 binary
  features).

Protocol (the paper's, Section 3.3): a 2-layer fully connected network
(:class:`~m2m_sampler.longtail.models.MLP` with one hidden layer of ``--hidden`` units), SGD with
momentum 0.9, base lr 0.1 with a 5-epoch linear warm-up, then x``--lr-decay`` (0.01) at
80% and 90% of the ``--epochs`` (15), batch 64, weight decay 5e-5; the deferred methods
(DRS, DRW, M2m) switch on at 80% of the epochs; M2m with ``T = 10`` and
``eta = 1.0`` on Reuters ("regarding the numerical range of the dataset"), 0.1 on
Twitter. Every run goes through :class:`~m2m_sampler.M2MClassifier` (``generation=False``
for the rows without M2m), so all rows share the data path, sampler and schedule.

Rows (``ROWS``): ERM, RS (class-balanced batches from epoch 0), SMOTE (the SMOTE-balanced
set, drawn uniformly with the epoch length of the original set), RW (inverse frequency),
CB-RW (effective number), DRS, M2m (online, ``g`` = the ERM net of the same seed), Focal,
LDAM (cosine head), LDAM-DRW, LDAM + M2m, and beyond the paper: logit-adjusted loss
(LA, tau 1) alone, with DRS and with M2m, and the offline ``M2MOverSampler`` + ERM.
Deferred rows continue a shared "trunk" (the same net trained by its loss without
re-balancing until the deferral epoch), so e.g. ERM, DRS and M2m of one seed are
identical until epoch 12 and differ only by what they do afterwards.

Hyper-parameters chosen on a validation split carved from the training data
(:func:`~benchmarks.compare.validation.carve_validation`, 20% of every class, ``g`` trained
on the fit part), by validation bACC (ties: balanced log-loss) over the grids in
``GRIDS``: M2m's ``beta`` x ``gamma`` (``lam`` 0.5, as in the paper's CIFAR runs; LDAM +
M2m, LA + M2m and the offline sampler reuse M2m's choice), LDAM's scale ``s``, the focal
``gamma``, CB-RW's ``beta``. ERM, RS, RW, DRS have no own hyper-parameter here; SMOTE's
``k_neighbors`` is ``min(5, n_min - 1)``.

Options: ``--dataset twitter-pos reuters --jobs 2`` runs the whole suite in one pool of
worker processes (one torch thread each; a seed is one task and gives the same numbers in
any process); ``--precision bf16`` runs every forward pass (training, ``g``, translation)
under bfloat16 autocast, weights and optimiser in float32 (about 2x faster on a CPU with
AVX-512 BF16); ``--seed-list`` runs some seeds and ``--merge`` joins such result files
into one table; ``--schedule-grid 15:0.6 30:0.8`` first chooses the number of epochs and the
deferral share on validation (:func:`choose_schedule`); ``--epochs``, ``--start-frac``,
``--lr-decay``, ``--eta`` change the protocol.

Results: bACC, GM (correction 0, as imbalanced-learn, and 1e-3 so that one class with
zero recall does not zero it), minority / majority accuracy; mean +- std over seeds,
paired differences with t-based 95% intervals; CPU time per row (``time.process_time`` of
the process that trained it), the suite's wall time, and the M2m acceptance.

Modules: :mod:`~benchmarks.table2.protocol` (rows, paper numbers, grids, protocol),
:mod:`~benchmarks.table2.data`, :mod:`~benchmarks.table2.nets` (nets, trunks, one seed),
:mod:`~benchmarks.table2.scoring` (scores, summary), :mod:`~benchmarks.table2.tuning`,
:mod:`~benchmarks.table2.report` (Markdown, figure, merge), :mod:`~benchmarks.table2.suite`
(the process pool and the command line).
"""

from benchmarks.table2.data import load_table2_data
from benchmarks.table2.nets import continue_trunk, from_scratch, make_net, run_seed, train_trunk
from benchmarks.table2.protocol import (
    GRIDS,
    PAIR_TARGETS,
    PAIRS,
    PAPER,
    ROW_KEYS,
    ROWS,
    Config,
    HyperParams,
)
from benchmarks.table2.report import merge, write_figure, write_markdown
from benchmarks.table2.scoring import acceptance, curve, scores, summarise, t_half_width
from benchmarks.table2.suite import build_parser, main, run_suite
from benchmarks.table2.tuning import choose_schedule, tune

__all__ = [
    "GRIDS",
    "PAIRS",
    "PAIR_TARGETS",
    "PAPER",
    "ROWS",
    "ROW_KEYS",
    "Config",
    "HyperParams",
    "acceptance",
    "build_parser",
    "choose_schedule",
    "continue_trunk",
    "curve",
    "from_scratch",
    "load_table2_data",
    "main",
    "make_net",
    "merge",
    "run_seed",
    "run_suite",
    "scores",
    "summarise",
    "t_half_width",
    "train_trunk",
    "tune",
    "write_figure",
    "write_markdown",
]
