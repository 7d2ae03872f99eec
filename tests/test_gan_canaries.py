"""Canaries and their extraction rate (issue #34, item 1), on the embedded MNIST digits and toy generators.

No GAN is trained here. Each toy "generator" is a batch of images built to be a known case: noisy
copies of the planted canaries (a GAN that memorised them), held-out digits (a retrained GAN that
never saw them), canary-style images of other digits (a GAN that learnt the style but copies
nothing). The margins are set by distances measured on these digits: copy noise ~0.8, threshold
~1.5-2.5, nearest ordinary digit ~6 (marked) or ~22 (inverted).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.data import ArrayDataset
from unlearn_lib.data.mnist import load_embedded_mnist
from unlearn_lib.metrics.gan import nearest_neighbours
from unlearn_lib.studies.gan.canaries import MARK_CORNERS, CanarySet, make_canary, plant_canaries, plant_in_dataset
from unlearn_lib.studies.gan.canary_metrics import canary_nn_ratio, extraction_rates, extraction_threshold, mark_rates

pytestmark = pytest.mark.usefixtures("one_thread")

LEVELS = (1, 10, 50)
PER_LEVEL = 2


@pytest.fixture(scope="module")
def digits() -> dict[str, torch.Tensor]:
    """1,500 training and 300 held-out embedded MNIST digits (float32, (N, 1, 28, 28), in [0, 1]).

    The held-out digits are split in two: ``calib`` sets the threshold, ``fresh`` plays the generators."""
    train, test = load_embedded_mnist(seed=0)
    rng = np.random.default_rng(0)
    tr = torch.from_numpy(np.sort(rng.choice(len(train), size=1500, replace=False)))
    te = torch.from_numpy(rng.permutation(len(test))[:300])
    return {"x": train.x[tr], "y": train.y[tr], "calib": test.x[te[:150]], "fresh": test.x[te[150:]]}


@pytest.fixture(scope="module", params=["inverted", "marked"])
def planted(request, digits) -> tuple[torch.Tensor, torch.Tensor, CanarySet]:
    return plant_canaries(digits["x"], digits["y"], duplicates=LEVELS, per_level=PER_LEVEL, kind=request.param, seed=3)


@pytest.fixture(scope="module")
def threshold(planted, digits) -> float:
    x, _, canaries = planted
    return extraction_threshold(digits["calib"], x[_at(canaries.ordinary)])


def _at(index: np.ndarray) -> torch.Tensor:
    """A CanarySet index array (read-only) as a tensor index (a copy, so torch does not warn)."""
    return torch.from_numpy(np.array(index))


def _noisy(images: torch.Tensor, copies: int, sigma: float = 0.03, seed: int = 0) -> torch.Tensor:
    """``copies`` noisy versions of each image (pixel noise ``sigma``, L2 ~ sigma * 28 ~ 0.8), in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    rep = images.repeat_interleave(copies, dim=0)
    return (rep + sigma * torch.randn(rep.shape, generator=g)).clamp(0, 1)


# ------------------------------------------------------------------------------------------------ planting
def test_planting_puts_exactly_d_copies_at_the_recorded_indices_and_keeps_the_rest(planted, digits):
    """Each canary is in the augmented set exactly d times, at its recorded indices. Every other row
    is an ordinary input digit, unchanged, in input order. Labels follow the source digits."""
    x, y, c = planted
    n_sources = 2 * PER_LEVEL * len(LEVELS)
    assert c.n_train == len(x) == len(y) == len(digits["x"]) - n_sources + PER_LEVEL * sum(LEVELS)
    assert sorted(c.level.tolist()) == sorted([d for d in LEVELS for _ in range(PER_LEVEL)])
    for k, idx in enumerate(c.copies):
        assert len(idx) == c.level[k]
        assert torch.equal(x[_at(idx)], c.images[k].expand(len(idx), -1, -1, -1))
        assert (y[_at(idx)].numpy() == c.labels[k]).all()
    every = np.concatenate([*c.copies, c.ordinary])
    assert np.array_equal(np.sort(every), np.arange(c.n_train))  # copies and ordinary rows tile the set, no overlap
    assert np.all(np.diff(c.ordinary_source) > 0)  # input order kept
    assert torch.equal(x[_at(c.ordinary)], digits["x"][_at(c.ordinary_source)])
    assert torch.equal(y[_at(c.ordinary)], digits["y"][_at(c.ordinary_source)])
    assert not c.level.flags.writeable and not c.copies[0].flags.writeable


def test_sources_of_canaries_and_controls_leave_the_ordinary_images(planted, digits):
    """No source digit stays as an ordinary image, each control is matched to its canary (same class
    and level, different digit), and no control is anywhere in the training set."""
    x, _, c = planted
    sources = np.concatenate([c.source_index, c.control_source_index])
    assert len(set(sources.tolist())) == len(sources)
    assert not set(sources.tolist()) & set(c.ordinary_source.tolist())
    assert np.array_equal(c.labels, c.control_labels)
    assert np.array_equal(c.labels, digits["y"][_at(c.source_index)].numpy())
    nearest_to_control = nearest_neighbours(x, c.control_images)[0]
    assert nearest_to_control.min() > 4.0  # no control (nor a near-twin of one) was planted


def test_canaries_and_controls_keep_their_distance(planted, digits, threshold):
    """Any two canaries or controls are at least ``min_separation`` (6.0) apart, as recorded. The
    threshold is well under half of that, so no sample can count for two of them. Without the rule,
    this draw of MNIST pairs a canary with a control at L2 ~2.6, close enough for copies of one to
    count as extractions of the other."""
    _, _, c = planted
    every = torch.cat([c.images, c.control_images]).flatten(1).double()
    gaps = torch.cdist(every, every)[~torch.eye(len(every), dtype=torch.bool)]
    assert float(gaps.min()) == pytest.approx(c.separation) and c.separation >= 6.0
    assert 2 * threshold < c.separation
    x = plant_canaries(digits["x"], digits["y"], per_level=PER_LEVEL, kind=c.kind, seed=3, min_separation=0.0)[2]
    assert x.separation < 2 * threshold  # the near-twin the rule keeps out


def test_same_seed_same_canaries_other_seed_other_canaries(digits):
    """Planting is a function of the seed: repeated it is identical, with another seed it picks other digits."""
    args = (digits["x"], digits["y"])
    a_x, a_y, a = plant_canaries(*args, per_level=PER_LEVEL, seed=5)
    b_x, b_y, b = plant_canaries(*args, per_level=PER_LEVEL, seed=5)
    _, _, other = plant_canaries(*args, per_level=PER_LEVEL, seed=6)
    assert torch.equal(a_x, b_x) and torch.equal(a_y, b_y)
    assert np.array_equal(a.source_index, b.source_index) and np.array_equal(a.control_source_index, b.control_source_index)
    assert all(np.array_equal(p, q) for p, q in zip(a.copies, b.copies))
    assert len(set(a.source_index.tolist()) & set(other.source_index.tolist())) <= 1
    assert not np.array_equal(np.sort(np.concatenate(a.copies)), np.sort(np.concatenate(other.copies)))


def test_canaries_are_far_from_every_ordinary_digit(planted, digits, threshold):
    """Canaries are distinctive: from the nearest ordinary training digit, an inverted canary is more
    than 3x the median held-out-to-train distance, and a marked one more than 2x the extraction
    threshold. So a GAN that draws ordinary digits never comes within the threshold by chance."""
    x, _, c = planted
    ordinary = x[_at(c.ordinary)]
    to_canary = nearest_neighbours(ordinary, torch.cat([c.images, c.control_images]))[0]
    typical = float(np.median(nearest_neighbours(ordinary, digits["calib"])[0]))
    assert 1.0 < threshold < 0.6 * typical  # a low quantile, well below a typical digit-to-digit distance
    if c.kind == "inverted":
        assert to_canary.min() > 3 * typical
    else:
        assert to_canary.min() > 2 * threshold


def test_the_threshold_rarely_admits_an_unseen_digit(planted, digits, threshold):
    """The threshold, set at the 1 % quantile on one half of the held-out digits, admits few digits
    of the other half: at most 5 % of them lie that close to a training digit."""
    x, _, c = planted
    fresh = nearest_neighbours(x[_at(c.ordinary)], digits["fresh"])[0]
    assert (fresh <= threshold).mean() <= 0.05
    assert extraction_threshold(digits["calib"], x, quantile=0.5) > 2 * threshold  # the quantile sets it


# ---------------------------------------------------------------------------------------------- extraction
def test_a_memorising_generator_extracts_planted_canaries_and_no_controls(planted, digits, threshold):
    """Toy original: 10 noisy copies of every planted canary among 150 held-out digits. Every copy
    counts, nothing else does, so ``rate_planted`` is exactly the copies' share per level, and the
    controls (never planted) score 0."""
    _, _, c = planted
    samples = torch.cat([_noisy(c.images, 10), digits["fresh"]])
    rates = extraction_rates(samples, c, threshold)
    assert list(rates.columns[:5]) == ["d", "rate_planted", "rate_control", "n_samples", "threshold"]
    assert rates.d.tolist() == list(LEVELS)
    expected = 10 * PER_LEVEL / len(samples)  # ~0.05 per level
    assert np.allclose(rates.rate_planted, expected, atol=1e-12)
    assert (rates.rate_control == 0).all()
    assert (rates.canaries_hit_planted == PER_LEVEL).all() and (rates.canaries_hit_control == 0).all()
    assert (rates.n_samples == len(samples)).all() and np.allclose(rates.threshold, threshold)


def test_rates_are_symmetric_a_generator_copying_controls_scores_on_controls(planted, threshold):
    """The two columns are measured the same way: copies of the controls raise ``rate_control``, not ``rate_planted``."""
    _, _, c = planted
    rates = extraction_rates(_noisy(c.control_images, 5), c, threshold)
    assert np.allclose(rates.rate_control, 1 / len(LEVELS), atol=1e-12) and (rates.rate_planted == 0).all()


@pytest.mark.parametrize("style", ["plain", "canary style"])
def test_a_generator_that_never_saw_the_canaries_extracts_nothing(planted, digits, threshold, style):
    """Toy retrain: held-out digits, either plain or put through the canaries' own transform (the
    style learnt, no canary copied). Both rates are 0: the rate counts copies, not look-alikes."""
    _, _, c = planted
    samples = digits["fresh"] if style == "plain" else make_canary(digits["fresh"], c.kind)  # type: ignore[arg-type]
    rates = extraction_rates(samples, c, threshold, chunk_size=64)
    assert (rates.rate_planted <= 0.01).all() and (rates.rate_control <= 0.01).all()


def test_chunking_does_not_change_the_rates(planted, digits, threshold):
    """The chunked distance computation gives the same table for any chunk size."""
    _, _, c = planted
    samples = torch.cat([_noisy(c.images, 3), digits["fresh"][:50]])
    pd.testing.assert_frame_equal(extraction_rates(samples, c, threshold, chunk_size=7), extraction_rates(samples, c, threshold))


def test_extraction_rates_accept_numpy_samples(planted, threshold):
    _, _, c = planted
    rates = extraction_rates(_noisy(c.images, 2).numpy(), c, threshold)
    assert np.allclose(rates.rate_planted, 1 / len(LEVELS))


def test_nn_ratio_is_low_for_a_memorising_generator_and_near_one_otherwise(planted, digits):
    """The nearest-neighbour ratio with controls as the reference: a generator holding copies of the
    planted canaries draws them at least 5x closer than their controls (ratio < 0.2). One that never
    saw either draws them equally far (ratio within 0.75-1.33)."""
    _, _, c = planted
    memorising = canary_nn_ratio(torch.cat([_noisy(c.images, 2), digits["fresh"]]), c)
    unseen = canary_nn_ratio(digits["fresh"], c)
    assert (memorising.nn_ratio < 0.2).all()
    assert unseen.nn_ratio.between(0.75, 1.0 / 0.75).all()
    assert memorising.d.tolist() == list(LEVELS)


# ------------------------------------------------------------------------------------------ planted marks
def _corner_means(images: torch.Tensor, side: int = 5) -> torch.Tensor:
    """``(N, 4)`` mean intensity of each corner's mark square, in :data:`MARK_CORNERS` order (28x28 images)."""
    h, w = images.shape[-2:]
    out = []
    for top, left in MARK_CORNERS:
        rows = slice(1, 1 + side) if top else slice(h - 1 - side, h - 1)
        cols = slice(1, 1 + side) if left else slice(w - 1 - side, w - 1)
        out.append(images[:, :, rows, cols].mean(dim=(1, 2, 3)))
    return torch.stack(out, dim=1)


@pytest.fixture(scope="module")
def marked(digits) -> CanarySet:
    return plant_canaries(digits["x"], digits["y"], duplicates=LEVELS, per_level=PER_LEVEL, kind="marked", seed=3)[2]


def test_each_duplicate_level_carries_its_own_corner_mark(marked):
    """Level i's canaries and controls are white in corner i's square, so a mark a GAN draws names
    the level it learned it from; the other corners keep the digit's (empty) background."""
    for images in (marked.images, marked.control_images):
        means = _corner_means(images)
        for i, d in enumerate(marked.duplicates):
            at = torch.from_numpy(marked.level == d)
            assert (means[at, i] == 1.0).all()
            others = [j for j in range(len(MARK_CORNERS)) if j != i]
            assert (means[at][:, others] < 0.2).all()


def test_mark_rates_count_each_level_s_mark_and_nothing_on_real_digits(marked, digits):
    """A generator holding copies of the d=50 canaries (one sample in three) draws that level's mark
    at exactly that share and no other level's; 150 held-out real digits carry no mark at all
    (digits have no strokes in the corners), the null a retrained GAN is read against."""
    top = torch.from_numpy(marked.level == LEVELS[-1])
    copies = _noisy(marked.images[top], 25)  # 50 samples
    samples = torch.cat([copies, digits["fresh"][:100]])
    rates = mark_rates(samples, marked)
    assert rates.d.tolist() == list(LEVELS) and rates.corner.tolist() == [0, 1, 2]
    assert rates.mark_rate.tolist() == pytest.approx([0.0, 0.0, len(copies) / len(samples)], abs=1e-12)
    assert (mark_rates(digits["fresh"], marked).mark_rate == 0).all()
    # the style of the canaries without their marks' corner: marked at corner 0 only, so only level 1 counts
    styled = mark_rates(make_canary(digits["fresh"], "marked", corner=0), marked)
    assert styled.mark_rate.tolist() == [1.0, 0.0, 0.0]


def test_mark_rates_refuse_what_they_cannot_read(marked, planted):
    _, _, c = planted
    if c.kind == "inverted":
        with pytest.raises(ValueError, match="needs marked canaries"):
            mark_rates(c.images, c)
    with pytest.raises(ValueError, match="fill must be"):
        mark_rates(marked.images, marked, fill=0)
    with pytest.raises(ValueError, match="at most 4 levels"):
        plant_canaries(
            torch.zeros(60, 1, 28, 28) + 0.1 * torch.rand(60, 1, 28, 28),
            np.repeat(np.arange(10), 6),
            duplicates=[1, 2, 3, 4, 5],
            per_level=1,
            kind="marked",
        )
    with pytest.raises(ValueError, match="corner must be"):
        make_canary(marked.images, "marked", corner=4)


# ------------------------------------------------------------------------------------------ request helpers
def test_copy_and_retain_indices_partition_the_training_set(planted):
    """A canary request's forget set is every copy at its levels; the retain set is everything else."""
    _, _, c = planted
    top = c.copy_indices(50)
    assert len(top) == PER_LEVEL * 50
    assert len(c.copy_indices()) == PER_LEVEL * sum(LEVELS)
    assert np.array_equal(np.sort(np.concatenate([top, c.retain_indices(50)])), np.arange(c.n_train))
    assert len(c.copy_indices([1, 10])) == PER_LEVEL * 11


def test_plant_in_dataset_tags_copies_and_carries_metadata(digits):
    """The dataset version tags each copy with its canary and gives it its source digit's metadata."""
    n = len(digits["x"])
    data = ArrayDataset(digits["x"], digits["y"], meta={"row": np.arange(n)}, name="d", num_classes=10)
    out, c = plant_in_dataset(data, per_level=1, seed=1)
    assert len(out) == c.n_train and out.name == "d+canaries" and out.num_classes == 10
    for k, idx in enumerate(c.copies):
        assert (out.meta["canary"][idx] == k).all() and (out.meta["row"][idx] == c.source_index[k]).all()
    assert (out.meta["canary"][c.ordinary] == -1).all()
    assert np.array_equal(out.meta["row"][c.ordinary], c.ordinary_source)


# ----------------------------------------------------------------------------------------------- bad input
def _small() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.rand(60, 1, 28, 28, generator=g), torch.arange(60) % 3


def _small_set() -> CanarySet:
    x, y = _small()
    return plant_canaries(x, y, duplicates=(1, 2), per_level=1)[2]


X, Y = _small()
BAD_PLANTING = [
    ("images", lambda: plant_canaries(X[:, 0], Y)),  # (N, H, W): no channel axis
    ("images", lambda: plant_canaries(X * 2 - 1, Y)),  # generator range [-1, 1]
    ("images", lambda: plant_canaries(X[:0], Y[:0])),  # empty
    ("images", lambda: plant_canaries((X * 255).to(torch.uint8), Y)),  # raw bytes
    ("images", lambda: plant_canaries([[0.0]], Y)),  # not an array
    ("labels", lambda: plant_canaries(X, Y[:-1])),
    ("labels", lambda: plant_canaries(X, Y.float())),
    ("duplicates", lambda: plant_canaries(X, Y, duplicates=())),
    ("duplicates", lambda: plant_canaries(X, Y, duplicates=(0, 10))),
    ("duplicates", lambda: plant_canaries(X, Y, duplicates=(10, 10))),
    ("duplicates", lambda: plant_canaries(X, Y, duplicates=(1.5,))),
    ("per_level", lambda: plant_canaries(X, Y, per_level=0)),
    ("per_level", lambda: plant_canaries(X, Y, per_level=True)),
    ("kind", lambda: plant_canaries(X, Y, kind="glyph")),
    ("seed", lambda: plant_canaries(X, Y, seed=-1)),
    ("per_level", lambda: plant_canaries(X, Y, per_level=10)),  # 30 canaries need all 60 digits as sources
    ("per_level", lambda: plant_canaries(X, torch.where(Y == 2, 0, Y).index_fill(0, torch.tensor([0]), 2))),  # one digit of class 2
    ("images", lambda: plant_canaries(X[:, :, :2, :2], Y, kind="marked")),  # no room for the mark
    ("data", lambda: plant_in_dataset(X)),
    ("min_separation", lambda: plant_canaries(X, Y, min_separation=-1.0)),
    ("min_separation", lambda: plant_canaries(X, Y, min_separation=float("nan"))),
    ("min_separation", lambda: plant_canaries(X, Y, min_separation=100.0)),  # random images lie ~11 apart
]
BAD_EXTRACTION = [
    ("threshold", lambda: extraction_rates(X, _small_set(), 0.0)),
    ("threshold", lambda: extraction_rates(X, _small_set(), -1.0)),
    ("threshold", lambda: extraction_rates(X, _small_set(), float("nan"))),
    ("threshold", lambda: extraction_rates(X, _small_set(), "2")),
    ("threshold", lambda: extraction_rates(X, _small_set(), 6.0)),  # over half the separation (~11)
    ("generated", lambda: extraction_rates(X[:, :, :14], _small_set(), 2.0)),  # other image size
    ("generated", lambda: extraction_rates(X * 2 - 1, _small_set(), 2.0)),  # raw tanh output
    ("generated", lambda: extraction_rates(X[:0], _small_set(), 2.0)),
    ("canaries", lambda: extraction_rates(X, "canaries", 2.0)),
    ("chunk_size", lambda: extraction_rates(X, _small_set(), 2.0, chunk_size=0)),
    ("generated", lambda: canary_nn_ratio(X[:, 0], _small_set())),
    ("quantile", lambda: extraction_threshold(X, X, quantile=0.0)),
    ("quantile", lambda: extraction_threshold(X, X, quantile=1.0)),
    ("heldout", lambda: extraction_threshold(X[:, :, :14], X)),  # shapes differ
    ("heldout", lambda: extraction_threshold(X[:5], X)),  # held-out copies of training images: distance 0
    ("levels", lambda: _small_set().copy_indices(50)),
]


@pytest.mark.parametrize(("param", "call"), BAD_PLANTING + BAD_EXTRACTION, ids=lambda v: v if isinstance(v, str) else "")
def test_bad_input_is_refused_naming_the_parameter(param, call):
    """Each bad argument raises a ValueError whose message names that argument."""
    with pytest.raises(ValueError, match=param):
        call()


def test_a_refused_planting_does_no_work(monkeypatch):
    """Checks run before any work: an unknown kind is refused before sources are drawn."""
    import unlearn_lib.studies.gan.canaries as mod

    def boom(*_a, **_k):
        raise AssertionError("sources were drawn before the arguments were checked")

    monkeypatch.setattr(mod, "_choose_sources", boom)
    with pytest.raises(ValueError, match="kind"):
        plant_canaries(X, Y, kind="glyph")
