"""The five segmentation mechanics, the core strategies on segmentation, and the experiment helper."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.metrics import predict_segmentation
from unlearn_lib.models.med3d import Med3DSegmenter
from unlearn_lib.results import ResultsRecorder, load_examples, load_metrics
from unlearn_lib.strategies import unlearn
from unlearn_lib.studies.segmentation import (
    PAPER_HEADLINE,
    SegmentationExperiment,
    curves_frame,
    horizon_table,
    paper_lens_table,
    read_slices,
    save_slices,
    slices_figure,
    subject_splits,
    train_segmenter,
)
from unlearn_lib.tasks import SegmentationTask

pytestmark = pytest.mark.usefixtures("one_thread")


MECHANICS = ["noisy_label", "max_loss", "retain_label", "random_encoder", "learn_noise_fixed_decoder"]
SIZE = 8


def _volumes(n: int, seed: int = 0) -> ArrayDataset:
    """Tiny learnable 'subjects': a bright sphere (label 3) inside a dimmer shell (label 2), jittered."""
    g = torch.Generator().manual_seed(seed)
    lin = torch.linspace(-1, 1, SIZE)
    zz, yy, xx = torch.meshgrid(lin, lin, lin, indexing="ij")
    xs, ys = [], []
    for _ in range(n):
        c = (torch.rand(3, generator=g) - 0.5) * 0.4
        r = ((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2).sqrt() * (0.8 + 0.4 * torch.rand(1, generator=g))
        y = torch.zeros(SIZE, SIZE, SIZE, dtype=torch.long)
        y[r < 0.9], y[r < 0.6], y[r < 0.3] = 1, 2, 3
        x = torch.tensor([0.0, 0.3, 0.6, 0.9])[y] + 0.05 * torch.randn(SIZE, SIZE, SIZE, generator=g)
        xs.append(x[None])
        ys.append(y)
    return ArrayDataset(torch.stack(xs), torch.stack(ys), {"subject": np.arange(n)}, num_classes=4)


@pytest.fixture(scope="module")
def trained(device):
    ds = _volumes(6)
    splits = subject_splits(ds, [0], [5])
    torch.manual_seed(0)
    model = Med3DSegmenter(depth=10, width=0.0625, stem_stride=1, max_pool=False)
    task = SegmentationTask(4)
    model, _ = train_segmenter(
        model, ds.subset([0, 1, 2, 3, 4]), task, {"epochs": 10, "optimizer": "adam", "lr": 1e-2, "head_lr_factor": 1.0}, device=device
    )
    return model, splits, task, device


def _run(method, trained, config, on_epoch=None):
    model, splits, task, device = trained
    return unlearn(
        method,
        model,
        retain=splits["retain"],
        forget=splits["forget"],
        task=task,
        config=config,
        device=device,
        seed=0,
        on_epoch=on_epoch,
        model_factory=lambda: Med3DSegmenter(depth=10, width=0.0625, stem_stride=1, max_pool=False),
    )


@pytest.mark.parametrize("method", MECHANICS)
def test_mechanics_run_record_epochs_and_are_deterministic(method, trained):
    calls = []
    res = _run(method, trained, {"epochs": 2, "lr": 1e-3}, on_epoch=lambda m, e, p: calls.append(e))
    assert calls == [0, 1] and [h["epoch"] for h in res.history] == [0, 1]
    before = dict(trained[0].named_parameters())
    changed = [n for n, p in res.model.named_parameters() if not torch.equal(p, before[n])]
    assert changed
    if method in ("random_encoder", "learn_noise_fixed_decoder"):  # only the encoder learns
        assert all(n.startswith("encoder.") for n in changed)
    if method not in ("noisy_label", "learn_noise_fixed_decoder"):
        return  # determinism: one label-based and one encoder-based mechanic suffice
    again = _run(method, trained, {"epochs": 2, "lr": 1e-3})
    for (n, a), b in zip(res.model.state_dict().items(), again.model.state_dict().values()):
        assert torch.equal(a, b), n


@pytest.mark.parametrize("method", ["noisy_label", "max_loss"])
def test_label_mechanics_raise_the_forget_loss_more_than_the_retain_loss(method, trained):
    model, splits, task, device = trained
    res = _run(method, trained, {"epochs": 4, "lr": 3e-3, "alpha": 1.0})
    before = {s: predict_segmentation(model, splits[s], task, device=device).loss.mean() for s in ("forget", "retain")}
    after = {s: predict_segmentation(res.model, splits[s], task, device=device).loss.mean() for s in ("forget", "retain")}
    assert after["forget"] - before["forget"] > after["retain"] - before["retain"]
    assert after["forget"] > 2 * before["forget"]


@pytest.mark.parametrize("method", ["random_encoder", "learn_noise_fixed_decoder"])
def test_encoder_mechanics_need_encoder_and_decoder(method, trained):
    _, splits, task, _device = trained
    plain = torch.nn.Sequential(torch.nn.Conv3d(1, 4, 1))
    with pytest.raises(ValueError, match="encoder"):
        unlearn(method, plain, retain=splits["retain"], forget=splits["forget"], task=task, device="cpu")


@pytest.mark.parametrize(
    ("config", "match"), [({"alpha": -1.0}, "alpha"), ({"clip": 0.0}, "clip"), ({"betas": (0.9, 1.5)}, "betas"), ({"epochs": 0}, "epochs")]
)
def test_mechanics_config_validation(config, match, trained):
    with pytest.raises(ValueError, match=match):
        _run("noisy_label", trained, config)


def test_learn_noise_reference_defaults():
    from unlearn_lib.strategies import get_strategy

    cfg = get_strategy("learn_noise_fixed_decoder").Config()
    assert (cfg.optimizer, cfg.lr, tuple(cfg.betas), cfg.weight_decay, cfg.clip) == ("adamw", 1e-4, (0.9, 0.95), 0.05, 3.0)


def test_subject_splits_validation():
    ds = _volumes(4)
    s = subject_splits(ds, [1], [3])
    assert [len(s[k]) for k in ("retain", "forget", "heldout")] == [2, 1, 1]
    with pytest.raises(ValueError, match="not in the dataset"):
        subject_splits(ds, [9], [])
    with pytest.raises(ValueError, match="both"):
        subject_splits(ds, [1], [1])
    with pytest.raises(ValueError, match="empty"):
        subject_splits(ds, [], [1])
    with pytest.raises(ValueError, match="no retain"):
        subject_splits(ds, [0, 1], [2, 3])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"slice_epochs": "20"}, "slice_epochs"),
        ({"slice_epochs": [0]}, "slice_epochs"),
        ({"n_slices": 0}, "n_slices"),
        ({"slice_retain": -1}, "slice_retain"),
    ],
)
def test_slice_parameters_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SegmentationExperiment(_volumes(4), [0], [3], {"depth": 10, "width": 0.0625}, device="cpu", **kwargs)


def test_experiment_every_strategy_including_core_ones(tmp_path):
    exp = SegmentationExperiment(
        _volumes(5, seed=1), [0], [4], {"depth": 10, "width": 0.0625, "max_pool": False}, device="cpu", slice_epochs=[1]
    )
    with pytest.raises(ValueError, match="train_baseline"):
        exp.run(["finetune"], ResultsRecorder("03", "toy", "med3d"), "final")
    exp.train_baseline({"epochs": 2, "optimizer": "adam", "lr": 1e-2, "head_lr_factor": 1.0})
    methods = ["noisy_label", "retrain", "finetune", "neggrad_plus", "scrub"]  # the core four run unchanged
    hp = {m: {"epochs": 2} for m in methods if m != "retrain"}  # retrain repeats the baseline's recipe
    hp["finetune"]["batch_size"] = 1
    hp["neggrad_plus"].update(batch_size=1, forget_batch_size=1)
    hp["scrub"].update(msteps=1, batch_size=1, forget_batch_size=1)
    rec = ResultsRecorder("03", "toy", "med3d")
    with pytest.raises(ValueError, match="not in the run"):
        exp.run(["finetune"], rec, "final", {"scrub": {}})
    exp.run(methods, rec, "final", hp)
    rec.write(tmp_path, {})
    df = load_metrics(tmp_path)
    ex = load_examples(tmp_path)  # per subject and class, for every model and split
    assert set(ex.method) == {"original", *methods} and set(ex.split) == {"retain", "forget", "heldout"}
    forget = ex[(ex.method == "scrub") & (ex.split == "forget")]
    assert set(forget.id) == {0} and sorted(forget.label) == [1, 2, 3]
    final = df[(df.scenario == "final") & (df.method == "scrub") & (df.split == "forget")].set_index("metric").value
    assert forget.dice.mean() == pytest.approx(final["dice"], nan_ok=True)
    cur = curves_frame(df)
    for m in methods:
        epochs = sorted(cur[(cur.method == m) & (cur.metric == "dice") & (cur.split == "forget")].epoch)
        assert epochs == ([] if m == "retrain" else [0, 1, 2]), (m, epochs)  # retrain has no curve
    table = horizon_table(df, (1, 2))
    assert list(table.index) == ["original", *methods]
    assert table.loc["retrain", "note"] == "final"
    assert exp.results["retrain"].config == exp.recipe.to_dict()  # the reference repeats the baseline recipe
    assert np.isfinite(table.loc["scrub", "forget dice @2"])
    # The value in the table is the recorded one.
    row = df[(df.method == "noisy_label") & (df.scenario == "curve") & (df.epoch == 2) & (df.split == "retain") & (df.metric == "dice")]
    assert table.loc["noisy_label", "retain dice @2"] == pytest.approx(float(row.value.iloc[0]))
    lens = paper_lens_table(df, (1, 2)).reset_index()  # one training seed: the paper's claim is never judged on it
    assert lens[["method", "epochs"]].values.tolist() == [["noisy_label", 1], ["noisy_label", 2]]
    assert lens.verdict.eq("inconclusive").all() and lens["training seeds"].eq(1).all()
    assert lens["paper retain %"].isna().all()  # the paper's numbers sit beside its own horizon (50) only
    assert PAPER_HEADLINE["epochs"] == 50
    save_slices(exp.predictions, tmp_path / "slices.npz")
    fig = slices_figure(tmp_path / "slices.npz")
    assert len(fig.axes) == 2 * (2 + 1 + len(methods))
    # The kept slices: every forget subject and two retain subjects, at the asked epoch and at the end.
    saved = read_slices(tmp_path / "slices.npz")
    assert saved.subjects == {"subject0": "forget", "subject1": "retain", "subject2": "retain"} and saved.epochs == [1]
    n = len(saved.slice_index)
    assert 1 <= n <= 5 and np.all(np.diff(saved.slice_index) > 0)
    assert saved.image("subject0").shape == (n, SIZE, SIZE) and saved.truth("subject0").dtype == np.uint8
    assert (saved.truth("subject1") > 0).any(axis=(1, 2)).all()  # every kept slice cuts through the labelled brain
    truth = exp.splits["retain"].y[0].numpy()[:, :, saved.slice_index].transpose(2, 0, 1)
    assert np.array_equal(saved.truth("subject1"), truth)
    assert saved.methods() == ["original", *methods]
    at1, final = saved.prediction("subject0", "scrub", 1), saved.prediction("subject0", "scrub")
    assert at1.dtype == np.uint8 and at1.shape == final.shape == (n, SIZE, SIZE)
    assert saved.prediction("subject0", "retrain", 1) is saved.prediction("subject0", "retrain")  # no curve: its final
    assert "subject0/epoch1/retrain" not in saved.data and "subject0/epoch2/scrub" not in saved.data
    # The baseline is not changed by the runs (each strategy works on a copy).
    before = copy.deepcopy(exp.original.state_dict())
    exp.run(["noisy_label"], ResultsRecorder("03", "toy", "med3d"), "final", {"noisy_label": {"epochs": 1}})
    assert all(torch.equal(before[k], v) for k, v in exp.original.state_dict().items())


def test_scrub_runs_at_the_others_step_budget_and_is_read_at_step_checkpoints(tmp_path):
    """SCRUB's epoch holds a max pass over the forget set besides its pass over the retain set, so at the
    same epochs it takes more optimizer steps than a one-pass mechanic. With ``budget_epochs`` it stops at
    the mechanic's steps and its curve epoch h is read after h retain passes' worth of steps. Whole
    volumes here: a retain pass is 3 steps (3 subjects, batch 1), a max pass 1 step (one forget subject),
    so checkpoints fall inside passes and are read at the first pass end past them."""
    data = _volumes(5, seed=1)
    hp = {"noisy_label": {"epochs": 3}, "scrub": {"epochs": 3, "msteps": 2, "batch_size": 1, "forget_batch_size": 1}}
    steps = {}
    for budget in (None, 3):
        exp = SegmentationExperiment(data, [0], [4], {"depth": 10, "width": 0.0625, "max_pool": False}, device="cpu", budget_epochs=budget)
        exp.train_baseline({"epochs": 1, "optimizer": "adam", "lr": 1e-2, "head_lr_factor": 1.0})
        rec = ResultsRecorder("03", "toy", "med3d")
        exp.run(["noisy_label", "scrub"], rec, "final", hp)
        rec.write(tmp_path / str(budget), {})
        df = load_metrics(tmp_path / str(budget))
        steps[budget] = df[(df.scenario == "final") & (df.metric == "steps") & (df.split == "all")].set_index("method").value
        cur = curves_frame(df)
        assert sorted(set(cur[cur.method == "scrub"].epoch)) == [0, 1, 2, 3], budget
    assert steps[None]["noisy_label"] == 3 * 3 and steps[None]["scrub"] == 3 * 3 + 2, "two max passes of one step on top"
    assert steps[3]["scrub"] == steps[3]["noisy_label"] == 3 * 3, "at the budget: the mechanic's steps"
    # A schedule shorter than the budget would be stretched and rerun, which the curve cannot follow: refused.
    short = SegmentationExperiment(data, [0], [4], {"depth": 10, "width": 0.0625, "max_pool": False}, device="cpu", budget_epochs=5)
    short.adopt_original(exp)
    with pytest.raises(ValueError, match="step budget of 5 epochs"):
        short.run(["scrub"], ResultsRecorder("03", "toy", "med3d"), "final", {"scrub": {"epochs": 1, "msteps": 1, "batch_size": 1}})
    with pytest.raises(ValueError, match="budget_epochs"):
        SegmentationExperiment(data, [0], [4], device="cpu", budget_epochs=0)


def test_one_joint_pass_over_retain_and_forget_patches_equals_two_passes():
    """The mechanics score a retain and a forget patch in one forward pass when batch norm is frozen: the
    same per-example outputs and the same gradient as two passes; with batch norm training, two passes."""
    from unlearn_lib.strategies._paired import batch_independent, encode, jointly

    torch.manual_seed(0)
    model = Med3DSegmenter(depth=10, num_classes=4, width=0.0625, stem_stride=1, max_pool=True, head="unet", head_channels=4)
    xr, xf = torch.randn(1, 1, 16, 16, 16), torch.randn(1, 1, 16, 16, 16)
    model.train()
    assert not batch_independent(model)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm3d):
            m.eval()
    assert batch_independent(model)

    def loss_and_grad(joint: bool):
        model.zero_grad()
        outs = jointly(lambda mm, x: mm(x), model, xr, xf) if joint else [model(xr), model(xf)]
        feats = jointly(encode, model, xr, xf) if joint else [encode(model, xr), encode(model, xf)]
        loss = outs[0].pow(2).mean() - 0.5 * outs[1].mean() + sum(f.mean() for f in feats[1])
        loss.backward()
        return outs, feats, torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])

    (o2, f2, g2), (o1, f1, g1) = loss_and_grad(False), loss_and_grad(True)
    for a, b in zip(o1 + [t for fs in f1 for t in fs], o2 + [t for fs in f2 for t in fs], strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(g1, g2, rtol=1e-3, atol=1e-5)
    model.train()  # batch norm training: the batch would mix statistics, so each input gets its own pass
    calls = []
    jointly(lambda mm, x: calls.append(len(x)) or mm(x), model, xr, xf)
    assert calls == [1, 1]
