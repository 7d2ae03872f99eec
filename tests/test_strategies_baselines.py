"""The baseline strategies: each runs on a tiny classifier and a tiny 3D segmentation problem through
the task interface and refuses bad hyper-parameters; mechanism tests per method (what forgetting they
achieve is tested in test_strategies_core)."""

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
    "cf_k": {"k": 1, "epochs": 1},
    "eu_k": {"k": 1, "epochs": 1},
    "bad_teacher": {"batch_size": 32},
    "scrub_r": {"preset": "small", "epochs": 2, "msteps": 1},
    "l1_sparse": {"epochs": 2, "alpha": 1e-3},
    "ssd": {"alpha": 1.0},  # tiny D has few batches, so I_f / I_D stays small
    "fisher": {"max_examples": 40},
}


def _params(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


@pytest.fixture(scope="module")
def trained_classifier(shared_quadrant_images):
    """A small CNN trained for two epochs on the tiny quadrant images (module-scoped: trained once)."""
    data = shared_quadrant_images
    y = data.y
    idx = torch.arange(120)
    forget = data.subset(torch.nonzero((y == 1) & (idx < 100)).flatten().numpy(), "forget")
    retain = data.subset(torch.nonzero((y != 1) & (idx < 100)).flatten().numpy(), "retain")
    val = data.subset(list(range(100, 120)), "val")

    def factory() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(1)
            return build_model("small_cnn", num_classes=4, width=0.25)

    model, _ = train_model(
        factory(), data.subset(list(range(100))), Task(4), {"epochs": 2, "lr": 0.05, "batch_size": 32}, device="cpu", seed=0
    )
    return model, retain, forget, val, factory


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
    forget, retain = data.subset(list(range(3)), "forget"), data.subset(list(range(3, 10)), "retain")
    val = data.subset([10, 11], "val")

    def factory() -> nn.Module:
        with torch.random.fork_rng():
            torch.manual_seed(2)
            return TinySeg3d()

    return factory(), retain, forget, val, factory


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_runs_on_a_copy_of_the_classifier(method, trained_classifier):
    model, retain, forget, val, factory = trained_classifier
    before = _params(model)
    res = unlearn(
        method, model, retain=retain, forget=forget, task=Task(4), config=FAST[method], val=val, model_factory=factory, device="cpu", seed=0
    )
    assert torch.equal(_params(model), before), "unlearn must work on a copy"
    assert torch.isfinite(_params(res.model)).all()  # that it forgets: test_strategies_core's behaviour tests
    assert res.method == method and res.seconds > 0


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_runs_on_3d_segmentation(method, seg_problem):
    model, retain, forget, val, factory = seg_problem
    res = unlearn(
        method, model, retain=retain, forget=forget, task=Task(3), config=FAST[method], val=val, model_factory=factory, device="cpu", seed=0
    )
    out = res.model(forget.x)
    assert out.shape == (3, 3, 4, 6, 6) and torch.isfinite(out).all()
    assert not torch.allclose(_params(res.model), _params(model))


@pytest.mark.parametrize("method", sorted(FAST))
def test_strategy_same_seed_same_numbers(method, trained_classifier):
    model, retain, forget, val, factory = trained_classifier
    runs = [
        _params(
            unlearn(
                method,
                model,
                retain=retain,
                forget=forget,
                task=Task(4),
                config=FAST[method],
                val=val,
                model_factory=factory,
                device="cpu",
                seed=3,
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
        ("cf_k", {"k": 0}),
        ("eu_k", {"epochs": 0}),
        ("bad_teacher", {"retain_fraction": 0.0}),
        ("bad_teacher", {"temperature": 0.0}),
        ("scrub_r", {"msteps": 5, "epochs": 2}),
        ("scrub_r", {"preset": "huge"}),
        ("l1_sparse", {"alpha": -1.0}),
        ("l1_sparse", {"decay": "cosine"}),
        ("ssd", {"alpha": 0.0}),
        ("ssd", {"lam": -1.0}),
        ("fisher", {"alpha": 0.0}),
        ("fisher", {"max_examples": -1}),
    ],
)
def test_bad_config_refused(method, bad):
    with pytest.raises(ValueError):
        make_config(method, bad)


def test_random_label_targets_never_true(trained_classifier):
    _, _, forget, _, _ = trained_classifier
    g = torch.Generator().manual_seed(0)
    y = forget.y
    r = Task(4).random_targets(y, g)
    assert (r != y).all() and set(r.tolist()) == {0, 2, 3}


def _request(model, retain, forget, task):
    orig = copy.deepcopy(model).eval()
    return UnlearnRequest(retain, forget, task, orig, torch.device("cpu"), 0)


@pytest.mark.parametrize("batch_size", [1, 7, 1000])
def test_salun_mask_keeps_the_largest_gradients(trained_classifier, batch_size):
    """Saliency is |gradient of the whole forget loss|, so the mask is the same whatever the batch size."""
    model, retain, forget, _, _ = trained_classifier
    model = copy.deepcopy(model)
    req = _request(model, retain, forget, Task(4))
    masks = saliency_mask(model, req, 0.25, batch_size=batch_size)
    # Reference saliency: |grad| of the forget loss in one full batch.
    model.eval()
    model.zero_grad()
    Task(4).loss(model(forget.x), forget.y).backward()
    sal = torch.cat([p.grad.abs().flatten() for p in model.parameters()])
    keep = torch.cat([m.flatten() for m in masks.values()]).bool()
    assert keep.sum() == round(0.25 * sal.numel())
    assert sal[keep].min() >= sal[~keep].max() * (1 - 1e-4), "the mask must keep the LARGEST |sum of grads|"
    assert sal[keep].mean() > 3 * sal[~keep].mean()


def test_salun_saliency_is_the_absolute_sum_not_the_sum_of_absolutes():
    """Two forget examples whose gradients cancel on the first input's weights: summed first, those
    weights have no saliency; summing per-batch |g| would rank them first."""
    model = nn.Linear(2, 2, bias=False)
    nn.init.zeros_(model.weight)
    forget = ArrayDataset(torch.tensor([[2.0, 1.0], [-2.0, 1.0]]), torch.tensor([0, 0]), num_classes=2)
    req = _request(model, forget, forget, Task(2))
    masks = saliency_mask(model, req, 0.5, batch_size=1)
    assert masks["weight"].tolist() == [[0.0, 1.0], [0.0, 1.0]]


def test_salun_changes_only_salient_weights(trained_classifier):
    model, retain, forget, _, _ = trained_classifier
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


def _run(method, problem, config, **kw):
    model, retain, forget, val, factory = problem
    args = {"retain": retain, "forget": forget, "val": val, "model_factory": factory, "device": "cpu", "seed": 0}
    args.update(kw)
    return unlearn(method, model, task=Task(4), config=config, **args)


@pytest.mark.parametrize("method", ["cf_k", "eu_k"])
def test_cf_eu_k_touch_only_last_k_blocks(method, trained_classifier):
    model = trained_classifier[0]
    res = _run(method, trained_classifier, {"k": 2, "epochs": 1})
    for i, (b0, b1) in enumerate(zip(model.blocks(), res.model.blocks())):
        s0, s1 = b0.state_dict(), b1.state_dict()
        same = all(torch.equal(s0[k], s1[k]) for k in s0)
        assert same == (i < len(model.blocks()) - 2), f"{method}: block {i} {'changed' if not same else 'unchanged'}"
    assert all(p.requires_grad for p in res.model.parameters())


def test_eu_k_reinitialises_from_factory(trained_classifier):
    model, *_, factory = trained_classifier
    res = _run("eu_k", trained_classifier, {"k": 1, "epochs": 1, "lr": 1e-12})
    fresh = factory().head.weight
    assert torch.allclose(res.model.head.weight, fresh, atol=1e-6)
    assert not torch.allclose(model.head.weight, fresh)


def test_cf_k_rejects_k_beyond_blocks(trained_classifier):
    with pytest.raises(ValueError, match="k must be in"):
        _run("cf_k", trained_classifier, {"k": 9, "epochs": 1})


def test_scrub_r_rewinds_and_needs_val(trained_classifier):
    res = _run("scrub_r", trained_classifier, {"preset": "small", "epochs": 3, "msteps": 2})
    last = res.history[-1]
    assert 0 <= last["rewind_to"] <= 2
    errors = [h["forget_error"] for h in res.history[:-1]]
    assert abs(last["forget_error"] - last["target_error"]) == pytest.approx(min(abs(e - last["target_error"]) for e in errors))
    with pytest.raises(ValueError, match="val"):
        _run("scrub_r", trained_classifier, {"preset": "small", "epochs": 1, "msteps": 1}, val=None)


def test_scrub_r_reuses_scrub_epochs():
    import unlearn_lib.strategies.scrub as scrub
    import unlearn_lib.strategies.scrub_r as scrub_r

    assert scrub_r.scrub_epoch is scrub.scrub_epoch


def test_ssd_dampen_known_case():
    from unlearn_lib.strategies.ssd import dampen

    p = torch.tensor([1.0, 1.0, 1.0, 1.0])
    imp_f = torch.tensor([50.0, 5.0, 20.0, 0.0])
    imp_d = torch.tensor([1.0, 1.0, 1.0, 1.0])
    assert dampen(p, imp_f, imp_d, alpha=10.0, lam=1.0) == 2
    assert torch.allclose(p, torch.tensor([1 / 50, 1.0, 1 / 20, 1.0]))


def test_l1_sparse_shrinks_l1_norm(trained_classifier):
    model = trained_classifier[0]
    l1 = lambda m: float(sum(p.detach().abs().sum() for p in m.parameters()))  # noqa: E731
    plain = _run("l1_sparse", trained_classifier, {"epochs": 2, "alpha": 0.0})
    sparse = _run("l1_sparse", trained_classifier, {"epochs": 2, "alpha": 1e-2})
    assert l1(sparse.model) < l1(plain.model) < 1.5 * l1(model)
    assert [h["alpha"] for h in sparse.history] == pytest.approx([1e-2, 5e-3])


class _LiveAndDead(nn.Module):
    """Six hidden units the retain set uses and 200 dead ones (no output, no gradient: zero Fisher)."""

    def __init__(self, live: int = 6, dead: int = 200) -> None:
        super().__init__()
        self.hidden, self.head = nn.Linear(4, live + dead), nn.Linear(live + dead, 3)
        with torch.no_grad():
            self.head.weight[:, :live] = torch.randn(3, live) * 0.3
            self.hidden.bias[:live] = 3.0
            self.hidden.weight[live:] = 0.0
            self.hidden.bias[live:] = -1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.relu(self.hidden(x)))


def test_fisher_noise_spares_important_weights_and_follows_the_authors_scales():
    """Golatkar et al.'s code: variance alpha / F clamped at 1e3 (1e2 on the output layer), then x10
    on the output layer and on vectors. Dead units (F = 0) sit at the clamp, so their noise is known."""
    torch.manual_seed(0)
    model = _LiveAndDead()
    g = torch.Generator().manual_seed(0)
    data = ArrayDataset(torch.randn(60, 4, generator=g) * 2, torch.arange(60) % 3, num_classes=3)
    retain, forget = data.subset(list(range(45))), data.subset(list(range(45, 60)))  # every class in both: no class step
    alpha = 1e-4
    res = unlearn("fisher", model, retain=retain, forget=forget, task=Task(3), config={"alpha": alpha}, device="cpu")
    moved = {n: (p1 - p0).detach() for (n, p0), p1 in zip(model.named_parameters(), res.model.parameters())}
    live, dead = moved["hidden.weight"][:6], moved["hidden.weight"][6:]
    assert 3 * live.abs().mean() < dead.abs().mean(), "weights the retain set needs must move far less"
    assert float(dead.std()) == pytest.approx((alpha * 1e3) ** 0.5, rel=0.15)
    assert float(moved["hidden.bias"][6:].std() / dead.std()) == pytest.approx(10**0.5, rel=0.2), "vectors get x10 variance"
    # the head: clamp 1e2 on (almost) every input, then x10: the dead hidden weights' scale, not a third of it
    assert float(moved["head.weight"].std() / dead.std()) == pytest.approx(1.0, rel=0.2)
    assert res.history[0]["forgotten_classes"] == 0


def test_fisher_class_step_removes_the_forgotten_class(trained_classifier):
    """Class forgetting: the forgotten class's output row gets mean 0 and a small variance, so its logit
    is gone and the forget set is misclassified while the retain set keeps its accuracy."""
    model, retain, forget, _, _ = trained_classifier
    task = Task(4)

    def acc(m: nn.Module, d: ArrayDataset) -> float:
        with torch.no_grad():
            return float((m.eval()(d.x).argmax(1) == d.y).float().mean())

    res = _run("fisher", trained_classifier, {"max_examples": 60})
    row0, row1 = model.head.weight[1].detach(), res.model.head.weight[1].detach()
    assert row1.abs().max() < 0.2 < row0.abs().max()
    assert abs(float(res.model.head.bias[1].detach())) < 0.2
    assert acc(model, forget) >= 0.9 and acc(res.model, forget) <= 0.1
    assert acc(res.model, retain) >= acc(model, retain) - 0.1
    off = _run("fisher", trained_classifier, {"max_examples": 60, "class_step": False})
    assert torch.allclose(off.model.head.weight[1], row0, atol=0.2), "without the class step the row only gets noise"
    assert res.history[0]["forgotten_classes"] == 1 and task.num_classes == 4


def test_bad_teacher_moves_forget_outputs_towards_random_teacher(trained_classifier):
    model, _, forget, _, factory = trained_classifier
    bad = factory().eval()
    res = _run("bad_teacher", trained_classifier, {"epochs": 3, "batch_size": 16})
    task = Task(4)
    with torch.no_grad():
        before = task.divergence(model.eval()(forget.x), bad(forget.x)).mean()
        after = task.divergence(res.model(forget.x), bad(forget.x)).mean()
    assert after < before
