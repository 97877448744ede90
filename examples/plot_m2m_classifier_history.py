"""
M2MClassifier: what the online generation did, epoch by epoch
=============================================================

:class:`~m2m_sampler.M2MClassifier` trains ``f`` by ERM until ``start_epoch``, then
translates inside every class-balanced batch. Its history records, per epoch, how many
batch entries became targets, how many translations were rejected (by ``beta`` or by
``gamma``) and accepted, and the accepted ones per source and target class
(``m2m_accepted_pairs``), which :func:`~m2m_sampler.plotting.plot_acceptance_matrix`
sums over the epochs. A small MLP on long-tailed digits, 12 epochs, the generation in
the last four (``start_epoch=8``). Run with
``python examples/plot_m2m_classifier_history.py``.
"""

# %%
import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.metrics import balanced_accuracy_score

from m2m_sampler import M2MClassifier
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.longtail.models import MLP
from m2m_sampler.plotting import plot_acceptance_matrix

X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
torch.manual_seed(0)
clf = M2MClassifier(
    MLP,
    module__n_features=64,
    module__n_classes=10,
    module__hidden=(64,),
    optimizer=torch.optim.SGD,
    optimizer__momentum=0.9,
    lr=0.05,
    batch_size=64,
    max_epochs=12,
    start_epoch=8,
    g_epochs=20,
    beta=0.99,
    gamma=0.9,
    step_size=0.2,
    n_steps=10,
    clip=(0.0, 1.0),
    random_state=0,
    verbose=0,
).fit(X, y)
bacc = balanced_accuracy_score(y_test, clf.predict(X_test))
print(f"balanced accuracy on the test set: {bacc:.3f}")

# %%
# Per epoch: targets drawn in the batches and what became of them.
h = clf.history
epochs = np.asarray(h[:, "epoch"])
fig, ax = plt.subplots(figsize=(7, 3.5))
for key in ("m2m_targets", "m2m_rejected_beta", "m2m_rejected_gamma", "m2m_accepted"):
    ax.plot(epochs, h[:, key], "o-", ms=3, label=key)
ax.set_xlabel("epoch")
ax.set_ylabel("batch entries")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
plt.show()

# %%
# Accepted translations per source and target class, summed over the epochs.
ax = plot_acceptance_matrix(clf)
plt.show()
