"""
M2MOverSampler in an imbalanced-learn Pipeline, against SMOTE
=============================================================

Digits made long-tailed (ratio 10), a skorch MLP as the final classifier, and three
ways of re-balancing the training data: none, SMOTE, and M2m with ``g`` an ERM model of
the same architecture. Run with ``python examples/pipeline_m2m_vs_smote.py``.
"""

# %%
import sys

import numpy as np
import torch
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline

from m2m_sampler import M2MOverSampler, NetClassifier
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.longtail.metrics import imbalance_report
from m2m_sampler.longtail.models import MLP

QUICK = "--quick" in sys.argv
data = load_digits_lt(imbalance_ratio=10)
n_features, n_classes = data.X_train.shape[1], len(np.unique(data.y_train))


def mlp(seed: int) -> NetClassifier:
    torch.manual_seed(seed)
    return NetClassifier(
        MLP, module__n_features=n_features, module__n_classes=n_classes,
        max_epochs=5 if QUICK else 60, lr=0.1, optimizer__momentum=0.9, batch_size=64,
        iterator_train__shuffle=True, verbose=0,
    )


# %%
# ``g`` is the same MLP trained by plain ERM on the imbalanced data (the paper's g).
erm = make_pipeline(mlp(0)).fit(data.X_train, data.y_train)
g = erm[-1]  # a fitted skorch net is accepted as g as it is

pipelines = {
    "ERM": erm,
    "SMOTE": make_pipeline(SMOTE(random_state=0), mlp(0)),
    "M2m": make_pipeline(
        M2MOverSampler(g, beta=0.99, gamma=0.9, step_size=0.5, random_state=0), mlp(0)
    ),
}
for name, pipe in pipelines.items():
    if name != "ERM":
        pipe.fit(data.X_train, data.y_train)
    report = imbalance_report(data.y_test, pipe.predict(data.X_test), data.y_train)
    print(f"{name:6s} balanced accuracy {report['balanced_accuracy']:.3f}  "
          f"minor-class accuracy {report['minor_acc']:.3f}")

sampler = pipelines["M2m"][0]
print("M2m translations accepted per class:",
      {c: s["n_accepted"] for c, s in sampler.class_stats_.items()})
