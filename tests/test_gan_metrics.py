"""GAN metrics on cases with known answers: FID, Inception-style score, membership AUC, class share."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from unlearn_lib.metrics import (
    ClassifierFID,
    class_share,
    classifier_fid,
    classifier_inception_score,
    discriminator_membership_auc,
    downstream_accuracy,
    frechet_distance,
    inception_fid,
    inception_score,
    membership_auc,
)
from unlearn_lib.metrics.gan import feature_statistics, inception_score_parts, nearest_neighbour_distances, nearest_neighbours
from unlearn_lib.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def _feats(n: int = 2000, d: int = 6, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, d))


def test_fid_of_a_set_with_itself_is_zero():
    f = _feats()
    assert frechet_distance(*feature_statistics(f), *feature_statistics(f)) == pytest.approx(0.0, abs=1e-6)


def test_fid_grows_with_a_mean_shift_as_its_square():
    f = _feats()
    stats = feature_statistics(f)
    small = frechet_distance(*stats, *feature_statistics(f + 0.5))
    large = frechet_distance(*stats, *feature_statistics(f + 1.0))
    assert small < large
    assert small == pytest.approx(6 * 0.25, rel=1e-6)  # same covariance: only |delta mu|^2 is left
    assert large == pytest.approx(6 * 1.0, rel=1e-6)


def test_fid_of_two_known_gaussians():
    # N(0, I) vs N(0, 4I) in 3-D: sum of (1 + 4 - 2*2) over dims = 3.
    assert frechet_distance(np.zeros(3), np.eye(3), np.zeros(3), 4 * np.eye(3)) == pytest.approx(3.0, abs=1e-8)


def test_fid_refuses_mismatched_shapes():
    with pytest.raises(ValueError, match="shapes"):
        frechet_distance(np.zeros(3), np.eye(3), np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match="N >= 2"):
        feature_statistics(np.zeros((1, 3)))


def test_inception_score_of_uniform_confident_set_is_number_of_classes():
    probs = np.eye(10)[np.arange(500) % 10]
    assert inception_score(probs) == pytest.approx(10.0, rel=1e-6)


def test_inception_score_factors_say_missing_classes_or_unclear_images():
    confident = np.eye(10)[np.arange(1000) % 10]
    one_class = np.eye(10)[np.zeros(1000, dtype=int)]
    unclear = np.full((1000, 10), 0.1)
    assert inception_score_parts(confident) == pytest.approx({"effective_classes": 10.0, "sample_ambiguity": 1.0}, rel=1e-6)
    assert inception_score_parts(one_class) == pytest.approx({"effective_classes": 1.0, "sample_ambiguity": 1.0}, rel=1e-6)
    assert inception_score_parts(unclear) == pytest.approx({"effective_classes": 10.0, "sample_ambiguity": 10.0}, rel=1e-6)
    probs = np.random.default_rng(0).dirichlet(np.full(10, 0.3), size=500)
    parts = inception_score_parts(probs)
    assert inception_score(probs) == pytest.approx(parts["effective_classes"] / parts["sample_ambiguity"], rel=1e-6)
    with pytest.raises(ValueError, match="summing to 1"):
        inception_score_parts(np.full((4, 3), 0.5))


def test_inception_score_of_identical_predictions_is_one():
    probs = np.tile([0.7, 0.2, 0.1], (100, 1))
    assert inception_score(probs) == pytest.approx(1.0, rel=1e-9)
    with pytest.raises(ValueError, match="summing to 1"):
        inception_score(np.full((4, 3), 0.5))


def test_membership_auc_known_cases():
    s = np.linspace(0, 1, 50)
    assert membership_auc(s, s) == pytest.approx(0.5)
    assert membership_auc(s + 2, s) == pytest.approx(1.0)
    assert membership_auc(s, s + 2) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="both groups"):
        membership_auc([], s)


class _Fixed(nn.Module):
    """A classifier with blocks(): features = flattened pixels mean per quadrant, head favours class 2."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.AvgPool2d(14), nn.Flatten())
        self.head = nn.Linear(4, 3)
        with torch.no_grad():
            self.head.weight.zero_()
            self.head.bias.copy_(torch.tensor([0.0, 0.0, 5.0]))

    def blocks(self) -> list[nn.Module]:
        return [self.features, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_classifier_metrics_with_a_fixed_classifier(tiny_images):
    clf = _Fixed()
    x = tiny_images.x
    assert class_share(clf, x, 2) == 1.0
    assert class_share(clf, x, 0) == 0.0
    assert classifier_fid(clf, x, x) == pytest.approx(0.0, abs=1e-6)
    assert classifier_fid(clf, x, (x + 0.3).clamp(0, 1)) > classifier_fid(clf, x, (x + 0.1).clamp(0, 1)) > 0
    assert ClassifierFID(clf, x)(x) == pytest.approx(0.0, abs=1e-6)
    assert classifier_inception_score(clf, x) == pytest.approx(1.0, rel=1e-6)  # one distribution for every image
    with pytest.raises(ValueError, match="cls"):
        class_share(clf, x, 5)


def test_discriminator_membership_auc_reads_per_image_scores(tiny_images):
    d = nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 1))
    with torch.no_grad():
        d[1].weight.fill_(1.0)
        d[1].bias.zero_()
    bright, dark = tiny_images.x[:40].clamp(0.5, 1.0), tiny_images.x[40:80] * 0.2
    assert discriminator_membership_auc(d, bright, dark) == pytest.approx(1.0)
    assert discriminator_membership_auc(d, dark, dark) == pytest.approx(0.5)


def test_inception_fid_needs_an_existing_file(tmp_path):
    x = torch.rand(4, 1, 28, 28)
    with pytest.raises(FileNotFoundError, match="Inception weights not found"):
        inception_fid(x, x, tmp_path / "inception-2015-12-05.pt")


class _PoolFeatures(nn.Module):
    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        return nn.functional.adaptive_avg_pool2d(x.float() / 255.0, 2).flatten(1)


def test_inception_fid_with_a_local_torchscript_extractor(tmp_path):
    path = tmp_path / "extractor.pt"
    torch.jit.script(_PoolFeatures()).save(str(path))
    g = torch.Generator().manual_seed(0)
    real = torch.rand(64, 1, 28, 28, generator=g)
    assert inception_fid(real, real, path) == pytest.approx(0.0, abs=1e-6)
    assert inception_fid(real, (real + 0.4).clamp(0, 1), path) > 0.1


def test_downstream_accuracy_learns_from_labelled_images(tiny_images):
    evaluator = _Quadrant()
    acc = downstream_accuracy(tiny_images.x, evaluator, tiny_images.x, tiny_images.y, model_kwargs={"width": 0.25}, epochs=3)
    assert 0.9 <= acc <= 1.0


class _Quadrant(nn.Module):
    """An exact 'evaluator' for the tiny fixture: the brightest quadrant is the class."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.AvgPool2d(14), nn.Flatten())
        self.head = nn.Linear(4, 4)
        with torch.no_grad():
            self.head.weight.copy_(torch.eye(4)[[0, 1, 2, 3]] * 50)
            self.head.bias.zero_()

    def blocks(self) -> list[nn.Module]:
        return [self.features, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def test_quadrant_evaluator_matches_fixture(tiny_images):
    pred = _Quadrant()(tiny_images.x).argmax(1)
    assert (pred == tiny_images.y).float().mean() == 1.0
    assert build_model("small_cnn", width=0.25)(tiny_images.x[:2]).shape == (2, 10)


def test_nearest_neighbours_find_the_copy_and_its_index():
    g = torch.Generator().manual_seed(0)
    pool = torch.rand(6, 1, 4, 4, generator=g)
    queries = torch.cat([pool[[4, 1]], pool[:1] + 0.5])
    d, i = nearest_neighbours(pool, queries)
    assert list(i[:2]) == [4, 1] and d[0] == d[1] == 0.0
    assert d[2] == pytest.approx(float(torch.cdist(queries[2:].flatten(1), pool.flatten(1)).min()), rel=1e-6)
    assert np.array_equal(nearest_neighbour_distances(pool, queries), d)  # the study's metric: the same distances
    with pytest.raises(ValueError, match="differ in shape"):
        nearest_neighbours(pool, torch.rand(2, 1, 5, 5))
    with pytest.raises(ValueError, match="non-empty"):
        nearest_neighbours(pool[:0], queries)
