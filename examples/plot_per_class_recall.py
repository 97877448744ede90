"""
Per-class recall and cumulative false positives: ERM, SMOTE and M2m
===================================================================

Re-balancing moves recall from the large classes to the small ones; the paper's Fig. 5
shows where the false positives go by accumulating them from the most to the least
frequent class. Three imbalanced-learn pipelines on long-tailed digits, with a
logistic regression as the final classifier: no re-balancing, SMOTE and
:class:`~m2m_sampler.M2MOverSampler` (its default ``g``). The numbers come from
:mod:`m2m_sampler.longtail.metrics`, the pictures from :mod:`m2m_sampler.plotting` (the
benchmark draws the same figures for its methods). Run with
``python examples/plot_per_class_recall.py``.
"""

# %%
import matplotlib.pyplot as plt
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import make_pipeline
from sklearn.linear_model import LogisticRegression

from m2m_sampler import M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.longtail.metrics import (
    class_frequency_order,
    cumulative_false_positives,
    per_class_recall,
)
from m2m_sampler.plotting import plot_cumulative_false_positives, plot_per_class_recall

X, y, X_test, y_test = load_digits_lt(imbalance_ratio=10, return_X_y=True)
order = class_frequency_order(y)  # most to least frequent in training


def classifier():
    return LogisticRegression(C=0.5, max_iter=2000)


models = {
    "ERM": make_pipeline(classifier()),
    "SMOTE": make_pipeline(SMOTE(random_state=0), classifier()),
    "M2m": make_pipeline(
        M2MOverSampler(beta=0.99, step_size=0.2, clip=(0, 1), random_state=0), classifier()
    ),
}
recall, cum_fp = {}, {}
for name, model in models.items():
    pred = model.fit(X, y).predict(X_test)
    recall[name] = per_class_recall(y_test, pred, labels=order)
    cum_fp[name] = cumulative_false_positives(y_test, pred, order)
    print(f"{name:6s} recall of the 3 smallest classes: {recall[name][-3:].round(2).tolist()}")

# %%
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
plot_per_class_recall(recall, order, ax=ax1)
plot_cumulative_false_positives(cum_fp, order, ax=ax2)
ax1.set_title("per-class recall")
ax2.set_title("cumulative false positives")
fig.tight_layout()
plt.show()
