"""GraphedTrainingForward: routing, state hygiene and fallback (CPU stand-in for the
recording); the real CUDA-graph training is checked against eager training on a GPU, for
a plain NetClassifier and for M2MClassifier (SpeedMixin's cuda_graph)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from m2m_sampler.classifier import M2MClassifier
from m2m_sampler.longtail.models import ResNet32
from m2m_sampler.net import NetClassifier
from m2m_sampler.training.cuda_graphs import GraphedTrainingForward


class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Linear(4, 3)

    def forward(self, x):
        return self.head(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3)))


class _FakeRecorder:
    """Stands in for torch.cuda.make_graphed_callables on the CPU: three warm-up
    forward/backward passes (input-gradient only, as the real one), then a callable that
    runs the wrapped module (the "replay")."""

    def __init__(self, fail=False):
        self.fail = fail
        self.captures = 0
        self.replays = 0
        self.stats_after_warmup = None
        self.last_out = None

    def __call__(self, module, sample_args):
        params = [p for p in module.parameters() if p.requires_grad]
        for _ in range(3):
            out = module(*sample_args)
            torch.autograd.grad(out.sum(), params)
        self.stats_after_warmup = [b.clone() for b in module.buffers()]
        if self.fail:
            raise RuntimeError("capture invalidated")
        self.captures += 1

        def replay(x):
            self.replays += 1
            self.last_out = module(x)
            return self.last_out

        return replay


def _graphed(module, recorder, **kwargs):
    gt = GraphedTrainingForward(module, **kwargs)
    gt.graph_device_types = ("cpu",)
    gt.make_graphed = recorder
    return gt


def test_full_training_batches_are_recorded_once_then_replayed():
    torch.manual_seed(0)
    net = _Net().train()
    rec = _FakeRecorder()
    gt = _graphed(net, rec, batch_size=8)
    x = torch.rand(8, 3, 5, 5)
    out = gt(x)
    assert out is not None and rec.captures == 1 and rec.replays == 1
    # a copy: valid after the next replay overwrites the graph's output buffer
    assert out.data_ptr() != rec.last_out.data_ptr() and torch.equal(out, rec.last_out)
    out.sum().backward()  # differentiable to the parameters
    assert net.conv.weight.grad is not None and net.conv.weight.grad.abs().sum() > 0
    assert gt(torch.rand(8, 3, 5, 5)) is not None
    assert rec.captures == 1 and gt.n_replayed_ == 2 and gt.n_captured_ == 1
    # not graphed: other batch sizes, eval mode, no-grad, inputs that need gradients
    assert gt(torch.rand(5, 3, 5, 5)) is None
    with torch.no_grad():
        assert gt(x) is None
    assert gt(x.clone().requires_grad_()) is None
    net.eval()
    assert gt(x) is None
    assert rec.replays == 2


def test_warm_up_passes_do_not_move_batchnorm_statistics():
    torch.manual_seed(0)
    net = _Net().train()
    ref = copy.deepcopy(net)
    rec = _FakeRecorder()
    gt = _graphed(net, rec, batch_size=8)
    x = torch.rand(8, 3, 5, 5) * 3
    before = [b.clone() for b in net.buffers()]
    gt(x)
    # the warm-ups did move them (3 batches seen) ...
    assert rec.stats_after_warmup[2].item() == before[2].item() + 3  # num_batches_tracked
    assert not torch.equal(rec.stats_after_warmup[0], before[0])
    # ... but afterwards the module is as if only the real batch had been seen
    ref(x)
    for b, r in zip(net.buffers(), ref.buffers()):
        torch.testing.assert_close(b, r, rtol=0, atol=0)


def test_a_failed_capture_warns_once_and_falls_back():
    torch.manual_seed(0)
    net = _Net().train()
    before = [b.clone() for b in net.buffers()]
    gt = _graphed(net, _FakeRecorder(fail=True), batch_size=8)
    with pytest.warns(RuntimeWarning, match="capture of the training step failed"):
        assert gt(torch.rand(8, 3, 5, 5)) is None
    assert "capture invalidated" in gt.failed_
    for b, s in zip(net.buffers(), before):
        torch.testing.assert_close(b, s, rtol=0, atol=0)
    assert gt(torch.rand(8, 3, 5, 5)) is None  # no second attempt


def test_max_graphs_bounds_the_recorded_shapes():
    net = _Net().train()
    one = _graphed(net, _FakeRecorder(), batch_size=None, max_graphs=1)
    assert one(torch.rand(8, 3, 5, 5)) is not None
    assert one(torch.rand(5, 3, 5, 5)) is None
    two = _graphed(net, _FakeRecorder(), batch_size=None, max_graphs=2)
    assert two(torch.rand(8, 3, 5, 5)) is not None and two(torch.rand(5, 3, 5, 5)) is not None
    assert two.n_captured_ == 2


def test_real_cuda_devices_only_by_default():
    gt = GraphedTrainingForward(_Net().train())
    assert gt.graph_device_types == ("cuda",)
    assert gt(torch.rand(8, 3, 5, 5)) is None  # a CPU batch is never graphed


# ----------------------------------------------------------------------------- on a GPU


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("amp", [None, torch.bfloat16])
@pytest.mark.parametrize("m2m", [False, True], ids=["NetClassifier", "M2MClassifier"])
def test_cuda_graph_training_matches_eager_training(amp, m2m):
    rng = np.random.default_rng(0)
    X = rng.random((300, 3, 32, 32), dtype=np.float32)
    y = rng.integers(0, 10, 300)
    common = dict(module__num_blocks=1, max_epochs=2, optimizer=torch.optim.SGD, lr=0.01,
                  optimizer__momentum=0.9, batch_size=64, device="cuda", amp_dtype=amp,
                  channels_last=True, verbose=0)
    states, nets = [], []
    for graph in (False, True):
        torch.manual_seed(0)
        if m2m:  # the generation's data path around the graphed step (DRS from epoch 1)
            net = M2MClassifier(ResNet32, generation=False, start_epoch=1, cuda_graph=graph,
                                random_state=0, **common)
        else:
            net = NetClassifier(ResNet32, iterator_train__shuffle=True, cuda_graph=graph,
                                **common)
        net.fit(X, y)
        states.append({k: v.float().cpu() for k, v in net.module_.state_dict().items()})
        nets.append(net)
    graphed = nets[1].graphed_forward_
    assert graphed.failed_ is None and graphed.n_captured_ == 1
    assert graphed.n_replayed_ == 2 * (300 // 64)  # the partial batch runs eagerly
    tol = 1e-3 if amp is None else 2e-2
    for k in states[0]:
        torch.testing.assert_close(states[1][k], states[0][k], rtol=tol, atol=tol)
