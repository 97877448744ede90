"""
Translated digits and the acceptance matrix
===========================================

M2m adds samples to a minority class ``k`` by moving samples of a larger class ``k0``
until a classifier ``g`` trained on the imbalanced data sees ``k`` (the paper's Fig. 6
shows such pairs on CIFAR-10). Here on long-tailed 8x8 digits (imbalance ratio 10):
:class:`~m2m_sampler.M2MOverSampler` with its default ``g`` (a small MLP it fits
itself), then the translated samples next to their sources and the change, and which
source classes fed which target classes. ``python -m benchmarks.compare`` draws the same
two figures for its first seed. Run with
``python examples/plot_translations_digits.py``.
"""

# %%
# Resample digits-LT. Pixels are in [0, 1]: ``clip=(0, 1)`` keeps them there, and the
# steps are in pixel units (``step_size * n_steps`` = 2.0, about the distance to the
# nearest digit of another class).
import matplotlib.pyplot as plt
import numpy as np

from m2m_sampler import M2MOverSampler
from m2m_sampler.datasets import load_digits_lt
from m2m_sampler.plotting import plot_acceptance_matrix, plot_translations

X, y, _, _ = load_digits_lt(imbalance_ratio=10, return_X_y=True)
sampler = M2MOverSampler(beta=0.99, gamma=0.9, step_size=0.2, clip=(0, 1), random_state=0)
X_res, y_res = sampler.fit_resample(X, y)
print("class counts before:", np.bincount(y).tolist())
print("class counts after: ", np.bincount(y_res).tolist())
n_added, n_accepted = len(sampler.is_translated_), int(sampler.is_translated_.sum())
print(f"accepted translations: {n_accepted} of the {n_added} added samples")

# %%
# Source, translated sample and their difference (red: ink added, blue: ink removed).
# Each column is titled ``k0 → k``; the translated sample is labelled ``k``.
fig = plot_translations(sampler, X, y, X_res, y_res, image_shape=(8, 8), n_samples=9)
plt.show()

# %%
# Accepted translations per source class (rows) and target class (columns). Sources
# are always strictly larger classes (the upper triangle here, since digits-LT orders
# its classes from largest to smallest); how often a class serves as a source follows
# ``1 - beta^(N_k0 - N_k)`` and how often ``g`` accepts the result.
ax = plot_acceptance_matrix(sampler)
plt.show()
