"""
CIFAR-LT-10: ERM, DRS and M2m from one shared ERM trunk
=======================================================

The paper's Table 1 trains ``f`` by ERM until the deferral epoch and then re-balances: DRS
with class-balanced batches, M2m with the same batches plus generated minority samples,
translated from majority images by ``g`` (an ERM network). DRS and M2m share their first
epochs, so both can continue one saved trunk: ``save_params`` at the deferral epoch, then
for each method a new :class:`~m2m_sampler.M2MClassifier` with its own settings,
``initialize()``, ``load_params`` and ``partial_fit`` (the learning-rate schedule, the
epoch count and the switch to balanced batches pick up where the trunk stopped).

This walks through those steps on a tiny subset of CIFAR-LT-10 (ratio 100: 1/100 of every
class, 2 epochs, deferral at epoch 1), with the networks of the full reproduction
(:func:`benchmarks.cifar_lt.make_net`: ResNet-32, the authors' schedule and
augmentation). The reproduction itself (200 epochs, every row of Table 1, caching, timing,
the authors' validation protocol) is ``python -m benchmarks.cifar_lt``; given its
options, this script hands over to it, e.g. ``python examples/cifar_lt.py --smoke --out
smoke.json``. See ``docs/reproduction.md``.

Run with ``python examples/cifar_lt.py`` (CPU, a few seconds; needs the CIFAR-10 files of
the shared data directory, ``$M2M_DATA_DIR``).
"""

# %%
import sys
import tempfile
from pathlib import Path

import torch
from sklearn.metrics import balanced_accuracy_score

from benchmarks.cifar_lt import main, make_net, parse_args
from benchmarks.cifar_lt.data import load_data

options = [a for a in sys.argv[1:] if a != "--quick"]
if options:  # the reproduction's options: run the reproduction
    main(options)
    sys.exit(0)

torch.set_num_threads(1)
# --smoke: 2 epochs, deferral at epoch 1; beta 0.99 so that the tiny classes get targets
args = parse_args(["--smoke", "--beta", "0.99"])
data = load_data(args.imbalance_ratio, smoke=True)
X, y, counts = data["X"], data["y"], data["counts"]
print(f"training images per class: {counts.tolist()}")


def score(net) -> float:
    return balanced_accuracy_score(data["y_test"], net.predict(data["X_test"]))


# %%
# g: plain ERM for the whole schedule (it is also Table 1's ERM row).
torch.manual_seed(0)
g = make_net(args, "erm", "g", counts, max_epochs=args.epochs).fit(X, y)

# The shared trunk: ERM until the deferral epoch, saved with skorch's save_params.
torch.manual_seed(1)
trunk = make_net(args, "drs", "trunk", counts, max_epochs=args.start_epoch, trunk=True)
trunk.fit(X, y)
folder = Path(tempfile.mkdtemp(prefix="cifar_lt_trunk_"))
files = {"f_params": folder / "params.pt", "f_optimizer": folder / "optimizer.pt",
         "f_history": folder / "history.json"}
trunk.save_params(**files)

# %%
# Two branches from the same state: DRS, and M2m with g.
results = {"ERM (g)": score(g)}
for method, label in (("drs", "DRS"), ("m2m", "M2m")):
    torch.manual_seed(2)
    net = make_net(args, method, method, counts, seed=2,
                   max_epochs=args.epochs - args.start_epoch,
                   g=g.module_ if method == "m2m" else None)
    net.initialize()
    net.load_params(**files)
    net.partial_fit(X, y)
    results[label] = score(net)
    if method == "m2m":
        h = net.history[-1]
        print(f"M2m's last epoch: {h['m2m_translated']} translated, "
              f"{h['m2m_accepted']} accepted")
for label, bacc in results.items():
    print(f"{label:8s} balanced accuracy {100 * bacc:.1f}%  (tiny subset, 2 epochs)")
