"""The one optimisation loop every strategy runs through: what it does per batch and per epoch.

The refactor that introduced it kept every strategy's trained weights bit-identical (checked once by
hashing each strategy's weights before and after); these tests pin the loop's behaviour instead of
hashes, which any legitimate torch change would break.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from unlearn_lib.data import ArrayDataset
from unlearn_lib.loops import batches, cycle, examples, paired, run_epoch, supervised, train_epoch
from unlearn_lib.strategies import UnlearnRequest
from unlearn_lib.strategies._loop import each_epoch, retain_forget_pairs
from unlearn_lib.tasks import Task


def _data(n: int = 10, seed: int = 0) -> ArrayDataset:
    g = torch.Generator().manual_seed(seed)
    return ArrayDataset(torch.randn(n, 3, generator=g), torch.arange(n) % 2, num_classes=2)


class CountingSGD(torch.optim.SGD):
    """SGD that counts its zero_grad and step calls."""

    def __init__(self, params, lr: float = 0.1) -> None:
        super().__init__(params, lr=lr)
        self.zeroed = self.stepped = 0

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.zeroed += 1
        super().zero_grad(set_to_none=set_to_none)

    def step(self, closure=None):
        self.stepped += 1
        return super().step(closure)


def test_step_loss_once_per_batch_with_zero_grad_step_and_train_mode():
    model = nn.Linear(3, 2).eval()
    opt = CountingSGD(model.parameters())
    seen = []

    def step_loss(batch):
        x, y = batch
        assert model.training
        seen.append(len(x))
        loss = Task(2).loss(model(x), y)
        return loss, {"loss": float(loss.detach()), "n": float(len(x))}

    before = model.weight.detach().clone()
    out = run_epoch(model, batches(_data(10), 4, shuffle=False), step_loss, opt, desc="t")
    assert seen == [4, 4, 2] and opt.zeroed == 3 and opt.stepped == 3
    assert not torch.equal(model.weight, before)
    assert out["n"] == pytest.approx(10 / 3)  # one vote per step by default


def test_means_per_example_with_weight_examples():
    model = nn.Linear(3, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    sizes = iter([4.0, 4.0, 2.0])
    out = run_epoch(
        model, batches(_data(10), 4, shuffle=False), lambda b: (model(b[0]).sum() * 0, {"v": next(sizes)}), opt, weight=examples
    )
    assert out["v"] == pytest.approx((4 * 4 + 4 * 4 + 2 * 2) / 10)
    assert run_epoch(model, iter([]), lambda b: (None, {}), opt) == {}  # no batch, nothing to record


def test_clip_bounds_the_gradient_norm_only_when_asked():
    norms = {}
    for clip in (None, 1e-3):
        model = nn.Linear(3, 2)
        opt = torch.optim.SGD(model.parameters(), lr=0.0)

        def step_loss(batch, model=model):
            return 1e3 * model(batch[0]).pow(2).sum(), {}

        run_epoch(model, batches(_data(4), 4, shuffle=False), step_loss, opt, clip=clip)
        norms[clip] = float(torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in model.parameters()])))
    assert norms[None] > 1.0 and norms[1e-3] == pytest.approx(1e-3, rel=1e-4)


def test_custom_step_and_mode_replace_the_defaults():
    model = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 2)).eval()
    opt = CountingSGD(model.parameters())
    calls = []
    run_epoch(
        model,
        batches(_data(6), 3, shuffle=False),
        lambda b: (model(b[0]).sum(), {}),
        opt,
        step=lambda: calls.append("step"),
        mode=lambda m: m[1].train(),
    )
    assert calls == ["step", "step"] and opt.stepped == 0
    assert not model[0].training and model[1].training


def test_supervised_signs_the_loss_but_records_it_unsigned():
    model, task = nn.Linear(3, 2), Task(2)
    x, y = _data(4).x, _data(4).y
    loss, parts = supervised(model, task, "forget_loss", sign=-1.0, targets_fn=lambda t: 1 - t)((x, y))
    plain = task.loss(model(x), 1 - y)
    assert float(loss.detach()) == pytest.approx(-float(plain.detach())) and parts == {"forget_loss": pytest.approx(float(plain.detach()))}
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    assert train_epoch(model, _data(4), task, opt, torch.device("cpu"), 2, torch.Generator()) == pytest.approx(
        float(task.loss(model(x), y).detach()), rel=1e-6
    )


def test_paired_draws_the_forget_batch_after_each_retain_batch():
    order = []

    def retain():
        for i in range(3):
            order.append(f"r{i}")
            yield i

    def forget():
        i = 0
        while True:
            order.append(f"f{i}")
            yield i
            i += 1

    assert list(paired(retain(), forget())) == [(0, 0), (1, 1), (2, 2)]
    assert order == ["r0", "f0", "r1", "f1", "r2", "f2"]


def _request(on_epoch=None) -> UnlearnRequest:
    return UnlearnRequest(_data(10), _data(3, seed=1), Task(2), nn.Linear(3, 2), torch.device("cpu"), 0, on_epoch=on_epoch)


def test_retain_forget_pairs_cycle_the_forget_set_across_epochs():
    req = _request()
    pairs = retain_forget_pairs(req, 4, 2)
    epochs = [list(pairs()), list(pairs())]
    assert [len(e) for e in epochs] == [3, 3]
    expected = cycle(req.forget, 2, req.generator(1))  # one stream that runs on across epochs
    for _, (xf, _) in epochs[0] + epochs[1]:
        assert torch.equal(xf, next(expected)[0])
    retain_gen = req.generator()
    for e in epochs:
        assert all(torch.equal(xr, b[0]) for ((xr, _), _), b in zip(e, batches(req.retain, 4, generator=retain_gen)))


def test_run_epochs_records_history_and_calls_epoch_done_once_per_epoch():
    calls = []
    req = _request(on_epoch=lambda m, e, p: calls.append((e, p, m.training)))
    model = nn.Linear(3, 2).train()
    out = each_epoch(model, req, 3, lambda e: {"loss": float(e)}, phase="min")
    assert out is model
    assert req.history == [{"epoch": 0, "loss": 0.0}, {"epoch": 1, "loss": 1.0}, {"epoch": 2, "loss": 2.0}]
    assert calls == [(0, "min", False), (1, "min", False), (2, "min", False)]  # evaluated in eval mode
    assert model.training  # and put back
