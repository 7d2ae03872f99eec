"""The new unlearning strategies: each runs on a tiny classifier and a tiny 3D segmentation problem
through the task interface, changes the model, and refuses bad hyper-parameters."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from unlearn_lib.data import ArrayDataset
from unlearn_lib.models import build_model
from unlearn_lib.strategies import UnlearnRequest, get_strategy, make_config, unlearn
from unlearn_lib.strategies.salun import saliency_mask
from unlearn_lib.tasks import Task
from unlearn_lib.training import train_model

# Small, fast settings per strategy for the tests (every other field keeps its paper default).
FAST: dict[str, dict] = {
    "random_label": {"epochs": 1},
    "salun": {"epochs": 1, "mask_fraction": 0.3},
}


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def trained_classifier():
    """A small CNN trained for two epochs on the tiny quadrant images (module-scoped: trained once)."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 4
    x = torch.rand(120, 1, 28, 28, generator=g) * 0.3
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, :, r * 14 : (r + 1) * 14, q * 14 : (q + 1) * 14] += 0.7
    data = ArrayDataset(x, y, num_classes=4)
    forget = data.subset(torch.nonzero(y == 1).flatten().numpy(), "forget")
    retain = data.subset(torch.nonzero(y != 1).flatten().numpy(), "retain")

    def factory() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(1)
            return build_model("small_cnn", num_classes=4, width=0.25)

    model, _ = train_model(factory(), data, Task(4), {"epochs": 2, "lr": 0.05, "batch_size": 32}, device="cpu", seed=0)
    return model, retain, forget, factory


class TinySeg3d(nn.Module):
    """Two Conv3d blocks: logits (N, C, D, H, W), the shape the segmentation study feeds strategies."""

    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        self.block1 = nn.Sequential(nn.Conv3d(1, 4, 3, padding=1), nn.ReLU())
        self.head = nn.Conv3d(4, classes, 1)

    def blocks(self) -> list[nn.Module]:
        return [self.block1, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.block1(x))


@pytest.fixture(scope="module")
def seg_problem():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(12, 1, 4, 6, 6, generator=g)
    y = (x[:, 0] * 3).long().clamp(max=2)  # voxel labels from intensity: learnable
    data = ArrayDataset(x, y, num_classes=3)
    forget, retain = data.subset(list(range(3)), "forget"), data.subset(list(range(3, 12)), "retain")

    def factory() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(2)
            return TinySeg3d()

    return factory(), retain, forget, factory


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_runs_and_changes_classifier(method, trained_classifier):
    model, retain, forget, factory = trained_classifier
    before = _params(model)
    res = unlearn(
        method, model, retain=retain, forget=forget, task=Task(4), config=FAST[method], model_factory=factory, device="cpu", seed=0
    )
    assert torch.equal(_params(model), before), "unlearn must work on a copy"
    after = _params(res.model)
    assert torch.isfinite(after).all()
    assert not torch.allclose(after, before), f"{method} left the model unchanged"
    assert res.method == method and res.seconds > 0


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_runs_on_3d_segmentation(method, seg_problem):
    model, retain, forget, factory = seg_problem
    res = unlearn(
        method, model, retain=retain, forget=forget, task=Task(3), config=FAST[method], model_factory=factory, device="cpu", seed=0
    )
    out = res.model(forget.x)
    assert out.shape == (3, 3, 4, 6, 6) and torch.isfinite(out).all()
    assert not torch.allclose(_params(res.model), _params(model))


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_same_seed_same_numbers(method, trained_classifier):
    model, retain, forget, factory = trained_classifier
    runs = [
        _params(
            unlearn(
                method, model, retain=retain, forget=forget, task=Task(4), config=FAST[method], model_factory=factory, device="cpu", seed=3
            ).model
        )
        for _ in range(2)
    ]
    assert torch.equal(runs[0], runs[1])


@pytest.mark.parametrize(
    ("method", "bad"),
    [
        ("random_label", {"epochs": 0}),
        ("random_label", {"lr": -1.0}),
        ("random_label", {"optimizer": "rmsprop"}),
        ("salun", {"mask_fraction": 0.0}),
        ("salun", {"mask_fraction": 1.5}),
        ("salun", {"not_a_field": 1}),
    ],
)
def test_bad_config_refused(method, bad):
    with pytest.raises(ValueError):
        make_config(method, bad)


def test_random_label_targets_never_true(trained_classifier):
    _, _, forget, _ = trained_classifier
    g = torch.Generator().manual_seed(0)
    y = forget.y
    r = Task(4).random_targets(y, g)
    assert (r != y).all() and set(r.tolist()) == {0, 2, 3}


def _request(model, retain, forget, task):
    orig = copy.deepcopy(model).eval()
    return UnlearnRequest(retain, forget, task, orig, torch.device("cpu"), 0)


def test_salun_mask_keeps_the_largest_gradients(trained_classifier):
    model, retain, forget, _ = trained_classifier
    model = copy.deepcopy(model)
    req = _request(model, retain, forget, Task(4))
    masks = saliency_mask(model, req, 0.25, batch_size=1000)
    # Reference saliency: |grad| of the forget loss in one full batch (same ranking as the accumulation).
    model.eval()
    model.zero_grad()
    Task(4).loss(model(forget.x), forget.y).backward()
    sal = torch.cat([p.grad.abs().flatten() for p in model.parameters()])
    keep = torch.cat([m.flatten() for m in masks.values()]).bool()
    assert keep.sum() == round(0.25 * sal.numel())
    assert sal[keep].min() >= sal[~keep].max(), "the mask must keep the LARGEST |grad|, not the smallest"
    assert sal[keep].mean() > 3 * sal[~keep].mean()


def test_salun_changes_only_salient_weights(trained_classifier):
    model, retain, forget, _ = trained_classifier
    req = _request(copy.deepcopy(model), retain, forget, Task(4))
    masks = saliency_mask(copy.deepcopy(model), req, 0.3, batch_size=64)
    res = unlearn("salun", model, retain=retain, forget=forget, task=Task(4), config={"epochs": 1, "mask_fraction": 0.3}, device="cpu")
    for (name, p0), p1 in zip(model.named_parameters(), res.model.parameters()):
        frozen = masks[name] == 0
        assert torch.equal(p0.detach()[frozen], p1.detach()[frozen]), f"non-salient weights of {name} moved"
    assert res.history[0]["mask_kept"] == pytest.approx(0.3, abs=1e-3)


def test_registered():
    for m in FAST:
        assert get_strategy(m).name == m
