"""Issue 23 (hardening, round 3): raw errors become clear messages, and odd inputs of the
public ``translate`` are refused instead of giving wrong results.

Each test fails on the code before its fix (a raw ``AttributeError`` / ``IndexError`` /
``RuntimeError`` / ``TypeError`` naming a private method, or a silently wrong result).
"""

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from torch import nn

from m2m_sampler import M2MOverSampler, NetClassifier, translate
from m2m_sampler.datasets import load_csv


def _blobs():
    rng = np.random.RandomState(0)
    X = np.vstack([rng.randn(n, 4) * 0.3 + c for c, n in enumerate((45, 15))]).astype(np.float32)
    y = np.repeat(np.arange(2), (45, 15))
    return X, y


def _linear(seed=0):
    torch.manual_seed(seed)
    return nn.Linear(4, 2)


class _LogitsAndFeatures(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = _linear()

    def forward(self, x):
        return self.lin(x), x


# ----------------------------------------------------------------- translate's inputs


def test_translate_refuses_integer_sources():
    # before: uint8 in, uint8 out with wrap-around (a step of -0.1 from 0 became 255)
    x0 = torch.zeros(3, 4, dtype=torch.uint8)
    with pytest.raises(TypeError, match=r"dtype torch.uint8.*x0.float\(\)"):
        translate(_linear(), x0, [0, 0, 0], [1, 1, 1])


def test_translate_refuses_numpy_sources():
    # before: AttributeError: 'numpy.ndarray' object has no attribute 'detach'
    with pytest.raises(TypeError, match=r"x0 must be a torch.Tensor; got numpy.ndarray"):
        translate(_linear(), np.zeros((3, 4), np.float32), [0, 0, 0], [1, 1, 1])


@pytest.mark.parametrize("n_steps", [0, 3])
def test_translate_target_out_of_range_is_a_clear_error(n_steps):
    # before: IndexError: Target 5 is out of bounds.
    x0 = torch.zeros(3, 4)
    with pytest.raises(ValueError, match=r"k holds the class index 5.*2 logits.*0\.\.1"):
        translate(_linear(), x0, [0, 0, 0], [1, 1, 5], n_steps=n_steps)
    with pytest.raises(ValueError, match=r"k0 holds the class index 7.*0\.\.1"):
        translate(
            _linear(), x0, [0, 0, 7], [1, 1, 1], f=_linear(1), lam=0.5, n_steps=max(1, n_steps)
        )
    # negative: -100 was cross_entropy's ignore_index (silently no step)
    with pytest.raises(ValueError, match=r"k holds the class index -100"):
        translate(_linear(), x0, [0, 0, 0], [1, 1, -100])


def test_translate_valid_inputs_unchanged():
    g = _linear()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.linspace(-1, 1, 12).reshape(3, 4)
    x, p = translate(g, x0, [0, 0, 0], [1, 1, 1], generator=gen)
    assert x.dtype == torch.float32 and p.shape == (3,)
    assert torch.all((p > 0) & (p < 1))


# ----------------------------------------------------------------- g that cannot be used


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("kind", ["script", "trace"])
def test_torchscript_g_is_refused_clearly(kind):
    # before: RuntimeError: requires_grad_ is not supported on ScriptModules
    X, y = _blobs()
    lin = _linear()
    g = torch.jit.script(lin) if kind == "script" else torch.jit.trace(lin, torch.zeros(1, 4))
    before = {k: v.clone() for k, v in g.state_dict().items()}
    with pytest.raises(TypeError, match=r"g is a TorchScript module.*original torch.nn.Module"):
        M2MOverSampler(g=g, random_state=0).fit_resample(X, y)
    assert all(torch.equal(before[k], v) for k, v in g.state_dict().items())


def test_g_returning_a_tuple_is_refused_clearly():
    # before: AttributeError: 'tuple' object has no attribute 'ndim'
    X, y = _blobs()
    with pytest.raises(TypeError, match=r"g must return one tensor of logits.*returned a tuple"):
        M2MOverSampler(g=_LogitsAndFeatures(), random_state=0).fit_resample(X, y)
    with pytest.raises(TypeError, match=r"returned a tuple"):
        translate(_LogitsAndFeatures(), torch.zeros(2, 4), [0, 0], [1, 1])
    # the classifier runs the same shared check on a given g (before: AttributeError)
    from m2m_sampler import M2MClassifier

    clf = M2MClassifier(nn.Linear, module__in_features=4, module__out_features=2,
                        g=_LogitsAndFeatures(), max_epochs=2, start_epoch=1, verbose=0)
    with pytest.raises(TypeError, match=r"g must return one tensor of logits.*returned a tuple"):
        clf.fit(X, y)


def test_sample_weight_message_names_the_public_method():
    # before: TypeError: M2MOverSampler._fit_resample() got an unexpected keyword argument
    X, y = _blobs()
    with pytest.raises(TypeError, match=r"M2MOverSampler.fit_resample takes X and y only") as e:
        M2MOverSampler(g=_linear(), random_state=0).fit_resample(X, y, sample_weight=np.ones(60))
    assert "_fit_resample" not in str(e.value) and "sample_weight" in str(e.value)


# ----------------------------------------------------------------- NetClassifier


def test_y_with_none_is_a_clear_error():
    # before: "Unknown label type: unknown. Maybe you are trying to fit a classifier, ..."
    X, _ = _blobs()
    y = np.array([0, 1, None] * 20, dtype=object)
    net = NetClassifier(nn.Linear, module__in_features=4, module__out_features=2,
                        max_epochs=1, verbose=0)
    with pytest.raises(ValueError, match=r"y contains None at 20 position\(s\) \(first at "
                       r"index 2\)"):
        net.fit(X, y)


def test_load_params_into_a_net_with_other_classes_is_a_clear_error(tmp_path):
    # before: RuntimeError "Error(s) in loading state_dict ... size mismatch", net half-loaded
    X, y = _blobs()
    torch.manual_seed(0)
    saved = NetClassifier(nn.Linear, module__in_features=4, module__out_features=2,
                          max_epochs=1, verbose=0).fit(X, y)
    saved.save_params(f_params=tmp_path / "p.pt")
    torch.manual_seed(1)
    other = NetClassifier(nn.Linear, module__in_features=4, module__out_features=3,
                          max_epochs=1, verbose=0).initialize()
    before = {k: v.clone() for k, v in other.module_.state_dict().items()}
    with pytest.raises(ValueError, match=r"'weight' was saved with shape \(2, 4\) but has shape "
                       r"\(3, 4\).*module__n_classes.*nothing was loaded"):
        other.load_params(f_params=tmp_path / "p.pt")
    assert all(torch.equal(before[k], v) for k, v in other.module_.state_dict().items())


# ----------------------------------------------------------------- plotting


def test_plot_translations_bad_n_samples_and_unfitted_sampler():
    pytest.importorskip("matplotlib")
    from m2m_sampler.plotting import plot_translations

    X, y = _blobs()
    # before: AttributeError: 'M2MOverSampler' object has no attribute 'is_translated_'
    with pytest.raises(NotFittedError, match=r"not fitted: call sampler.fit_resample"):
        plot_translations(M2MOverSampler(), X, y, X, y)
    # before: n_samples=0 reached plt.subplots(3, 0) (a raw matplotlib error)
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match=r"n_samples must be a positive integer"):
            plot_translations(M2MOverSampler(), X, y, X, y, n_samples=bad)


def test_plot_per_class_recall_with_dicts():
    pytest.importorskip("matplotlib")
    import matplotlib.pyplot as plt

    from m2m_sampler.plotting import plot_per_class_recall

    # one model's per-class dict instead of {name: values}; before: "'float' object is not
    # iterable"
    with pytest.raises(TypeError, match=r"single float.*\{'name': values\}"):
        plot_per_class_recall({0: 0.5, 1: 0.7}, [0, 1])
    with pytest.raises(TypeError, match=r"mapping of model name"):
        plot_per_class_recall([0.5, 0.7], [0, 1])
    # a model's values keyed by class: before, the keys (0, 1) were drawn as the recalls
    ax = plot_per_class_recall({"m": {1: 0.7, 0: 0.5}}, [0, 1])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), [50.0, 70.0])
    with pytest.raises(ValueError, match=r"no value for the classes \[2\]"):
        plot_per_class_recall({"m": {0: 0.5, 1: 0.7}}, [0, 1, 2])
    plt.close("all")


# ----------------------------------------------------------------- load_csv


def _write(path, header, rows):
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_load_csv_refuses_a_repeated_label_column(tmp_path):
    # before: pandas renamed the copy 'label.1' and it became a feature (the answer)
    rows = [f"{i * 0.1},{i % 3},{i % 3}" for i in range(30)]
    path = _write(tmp_path / "dup.csv", "a,label,label", rows)
    with pytest.raises(ValueError, match=r"names the label column 'label' more than once.*"
                       r"drop_columns=\['label.1'\]"):
        load_csv(path, "label")
    X, y = load_csv(path, "label", drop_columns=["label.1"], return_X_y=True)
    assert X.shape == (30, 1) and y.tolist() == [i % 3 for i in range(30)]
    # a column genuinely named "label.1" (not a repeat) is kept
    rows = [f"{i},{i % 2},{i % 5}" for i in range(9)]
    path = _write(tmp_path / "ok.csv", "a,label,label.1", rows)
    assert load_csv(path, "label").feature_names == ["a", "label.1"]


def test_load_csv_refuses_an_identifier_column(tmp_path):
    # before: 'id' was one-hot encoded into one feature per row
    rows = [f"u{i:04d},{i * 0.5},{i % 2}" for i in range(120)]
    path = _write(tmp_path / "ids.csv", "id,a,label", rows)
    with pytest.raises(ValueError, match=r"Column 'id' holds text with 120 distinct values in 120 "
                       r"rows.*drop_columns=\['id'\]"):
        load_csv(path, "label")
    assert load_csv(path, "label", drop_columns=["id"]).data.shape == (120, 1)
    assert load_csv(path, "label", categorical=["id"]).data.shape == (120, 121)
    # a real category (few values) is still one-hot encoded
    rows = [f"{'abc'[i % 3]},{i * 0.5},{i % 2}" for i in range(120)]
    path = _write(tmp_path / "cat.csv", "colour,a,label", rows)
    assert load_csv(path, "label").feature_names == ["colour=a", "colour=b", "colour=c", "a"]


def test_load_csv_header_only(tmp_path):
    # before: "... has no feature column" (a header-only file has feature columns)
    path = _write(tmp_path / "hdr.csv", "a,b,label", [])
    with pytest.raises(ValueError, match=r"has a header but no data row"):
        load_csv(path, "label")


def test_load_csv_missing_values_names_the_columns(tmp_path):
    rows = [f"{'' if i % 4 == 0 else i},{i},{i % 2}" for i in range(12)]
    path = _write(tmp_path / "na.csv", "a,b,label", rows)
    with pytest.raises(ValueError, match=r"drop_columns=\['a'\].*dropna=True"):
        load_csv(path, "label")
