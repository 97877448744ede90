"""Every accepted kind of g/f becomes a torch module with the same predict_proba."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MaxAbsScaler, MinMaxScaler, StandardScaler
from skorch import NeuralNetClassifier
from torch import nn

from m2m_sampler.engine.converters import (
    as_torch_classifier,
    default_g,
    fit_quietly,
    sklearn_to_torch,
)
from m2m_sampler.net import NetClassifier


def _data(n_classes):
    X, y = make_classification(
        n_samples=240, n_features=6, n_informative=4, n_classes=n_classes,
        n_clusters_per_class=1, random_state=0,
    )
    return X * 3 + 1, y


def _torch_proba(module, X):
    with torch.no_grad():
        return module(torch.as_tensor(X, dtype=torch.float32)).softmax(dim=1).numpy()


ESTIMATORS = [
    LogisticRegression(max_iter=500),
    SGDClassifier(loss="log_loss", random_state=0),
    MLPClassifier(hidden_layer_sizes=(7, 5), activation="relu", max_iter=300, random_state=0),
    MLPClassifier(hidden_layer_sizes=(6,), activation="tanh", max_iter=300, random_state=0),
    MLPClassifier(hidden_layer_sizes=(6,), activation="logistic", max_iter=300, random_state=0),
    MLPClassifier(hidden_layer_sizes=(6,), activation="identity", max_iter=300, random_state=0),
    make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
    make_pipeline(MinMaxScaler(), MLPClassifier(max_iter=300, random_state=0)),
    make_pipeline(MinMaxScaler(clip=True), LogisticRegression(max_iter=500)),
    make_pipeline(MaxAbsScaler(), StandardScaler(with_mean=False), SGDClassifier(
        loss="log_loss", random_state=0)),
]


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda e: repr(e)[:60])
def test_sklearn_conversion_is_exact(estimator, n_classes):
    X, y = _data(n_classes)
    est = fit_quietly(estimator, X, y)
    module = sklearn_to_torch(est)
    X_test = np.vstack([X[:50], X[:20] * 2.5 - 4])  # also outside the training range
    np.testing.assert_allclose(_torch_proba(module, X_test), est.predict_proba(X_test),
                               atol=1e-5)
    # any input shape is flattened, as scikit-learn sees vectors
    img = torch.as_tensor(X_test[:5], dtype=torch.float32).reshape(5, 2, 3)
    np.testing.assert_allclose(_torch_proba(module, img.reshape(5, -1)),
                               module(img).softmax(1).detach().numpy(), atol=1e-7)


def test_default_generator_is_deterministic_erm_mlp():
    X, y = _data(3)
    a = fit_quietly(default_g(random_state=3), X, y)
    b = fit_quietly(default_g(random_state=3), X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    np.testing.assert_allclose(_torch_proba(sklearn_to_torch(a), X), a.predict_proba(X),
                               atol=1e-5)


def test_skorch_nets():
    X, y = _data(3)
    X = X.astype(np.float32)
    torch.manual_seed(0)
    # NetClassifier: logits + CrossEntropyLoss
    net = NetClassifier(nn.Linear, module__in_features=6, module__out_features=3,
                        max_epochs=3, lr=0.05, verbose=0).fit(X, y)
    module, checkable = as_torch_classifier(net, classes=np.unique(y))
    assert checkable and module is net.module_
    np.testing.assert_allclose(_torch_proba(module, X), net.predict_proba(X), atol=1e-6)
    # plain skorch: the module returns probabilities for NLLLoss
    plain = NeuralNetClassifier(
        nn.Sequential(nn.Linear(6, 3), nn.Softmax(dim=-1)), max_epochs=3, lr=0.05,
        train_split=None, verbose=0,
    ).fit(X, y)
    module, _ = as_torch_classifier(plain, classes=np.unique(y))
    np.testing.assert_allclose(_torch_proba(module, X), plain.predict_proba(X), atol=1e-6)


def test_bad_estimators():
    X, y = _data(3)
    with pytest.raises(NotFittedError, match="not fitted"):
        sklearn_to_torch(LogisticRegression())
    with pytest.raises(TypeError, match="log_loss"):
        sklearn_to_torch(SGDClassifier(loss="hinge").fit(X, y))
    with pytest.raises(TypeError, match="must be"):
        as_torch_classifier(object(), name="g")
    from sklearn.tree import DecisionTreeClassifier

    with pytest.raises(TypeError, match="cannot be converted"):
        sklearn_to_torch(DecisionTreeClassifier().fit(X, y))
    with pytest.raises(TypeError, match="cannot be converted"):
        sklearn_to_torch(make_pipeline(
            __import__("sklearn.decomposition", fromlist=["PCA"]).PCA(2),
            LogisticRegression()).fit(X, y))
    lr = LogisticRegression().fit(X, y + 1)
    with pytest.raises(ValueError, match="same labels"):
        as_torch_classifier(lr, classes=np.unique(y), name="f")
    net = NetClassifier(nn.Linear, module__in_features=6, module__out_features=3)
    with pytest.raises(NotFittedError, match="not initialized"):
        as_torch_classifier(net)


def test_net_classifier_scorers_use_original_labels():
    from skorch.callbacks import EpochScoring
    from skorch.dataset import ValidSplit

    X, y = _data(3)
    labels = np.array(["ant", "bee", "cow"])[y]
    user_cb = EpochScoring("accuracy", on_train=True, name="train_acc", lower_is_better=False)
    torch.manual_seed(0)
    net = NetClassifier(nn.Linear, module__in_features=6, module__out_features=3,
                        max_epochs=4, lr=0.05, train_split=ValidSplit(4, stratified=True),
                        callbacks=[user_cb], verbose=0).fit(X, labels)
    assert user_cb.target_extractor.__name__ == "to_numpy"  # the caller's object is kept
    valid_acc = net.history[-1, "valid_acc"]
    train_acc = net.history[-1, "train_acc"]
    # the scores are real accuracies against the string labels, not index/label mismatches
    assert valid_acc > 0.5 and train_acc > 0.5
    assert net.score(X, labels) == pytest.approx(np.mean(net.predict(X) == labels))
