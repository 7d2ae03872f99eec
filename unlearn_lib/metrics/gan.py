"""GAN metrics computed with an evaluator classifier: classifier-FID, classifier Inception-style
score, share of a class among generated images, discriminator membership AUC, downstream accuracy.

No Inception weights can be downloaded here, so the usual FID and IS are computed with a classifier
trained on the same real data instead, and named for what they are: **classifier-FID** (Frechet
distance between the classifier's penultimate features of real and generated images) and the
**classifier Inception-style score** (exp E_x KL(p(y|x) || p(y)) with the classifier's p(y|x)).
Their values are not comparable with published FID/IS numbers; differences between methods are.
:func:`inception_fid` computes the standard FID when an Inception feature extractor file is given.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import scipy.linalg
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score
from torch import nn

__all__ = [
    "ClassifierFID",
    "TorchmetricsFID",
    "class_share",
    "classifier_accuracy",
    "classifier_fid",
    "classifier_inception_score",
    "classifier_outputs",
    "discriminator_membership_auc",
    "discriminator_scores",
    "downstream_accuracy",
    "downstream_classifier",
    "feature_statistics",
    "frechet_distance",
    "inception_fid",
    "inception_score",
    "inception_score_parts",
    "membership_auc",
    "nearest_neighbour_distances",
    "nearest_neighbours",
    "penultimate_features",
    "torchmetrics_fid",
]


def penultimate_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Features before the classification head: every block of ``model.blocks()`` but the last."""
    if not hasattr(model, "blocks"):
        raise ValueError(f"{type(model).__name__} has no blocks(): cannot read its penultimate features")
    h = x
    for block in model.blocks()[:-1]:
        h = block(h)
    return h.flatten(1)


@torch.no_grad()
def classifier_outputs(model: nn.Module, images: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Penultimate features (N, F) and class probabilities (N, C) of ``images`` (in [0, 1])."""
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) tensor, got shape {tuple(images.shape)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    feats, probs = [], []
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device)
        h = penultimate_features(model, x)
        feats.append(h.double().cpu())
        probs.append(F.softmax(model.blocks()[-1](h), dim=1).double().cpu())
    model.train(was_training)
    return torch.cat(feats).numpy(), torch.cat(probs).numpy()


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features (N, F); N >= 2."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or len(f) < 2:
        raise ValueError(f"features must be (N, F) with N >= 2, got shape {f.shape}")
    return f.mean(axis=0), np.cov(f, rowvar=False)


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = 1e-6) -> float:
    """Frechet distance between Gaussians: |mu1 - mu2|^2 + Tr(S1 + S2 - 2 (S1 S2)^(1/2)).

    The matrix square root is ``scipy.linalg.sqrtm``; a singular product is regularised with
    ``eps`` on the diagonal and a numerically complex result is reduced to its real part (as in the
    reference FID code of Heusel et al.).
    """
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise ValueError(f"shapes do not match: mu {mu1.shape} / {mu2.shape}, sigma {s1.shape} / {s2.shape}")
    diff = mu1 - mu2
    with warnings.catch_warnings():  # a singular product is handled just below, as in the reference code
        warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
        covmean = scipy.linalg.sqrtm(s1 @ s2)
    if not np.isfinite(covmean).all():
        offset = np.eye(s1.shape[0]) * eps
        covmean = scipy.linalg.sqrtm((s1 + offset) @ (s2 + offset))
    covmean = np.real(covmean)
    return float(max(diff @ diff + np.trace(s1) + np.trace(s2) - 2.0 * np.trace(covmean), 0.0))


def _fid_from_features(real: np.ndarray, fake: np.ndarray) -> float:
    return frechet_distance(*feature_statistics(real), *feature_statistics(fake))


def classifier_fid(classifier: nn.Module, real: torch.Tensor, generated: torch.Tensor) -> float:
    """Classifier-FID: Frechet distance between the evaluator's penultimate features of real and
    generated images (both in [0, 1]). 0 for identical feature distributions; lower is better."""
    return _fid_from_features(classifier_outputs(classifier, real)[0], classifier_outputs(classifier, generated)[0])


class ClassifierFID:
    """Class form of :func:`classifier_fid` that computes the real images' statistics once."""

    def __init__(self, classifier: nn.Module, real: torch.Tensor) -> None:
        self.classifier = classifier
        self.real_stats = feature_statistics(classifier_outputs(classifier, real)[0])

    def __call__(self, generated: torch.Tensor) -> float:
        return frechet_distance(*self.real_stats, *feature_statistics(classifier_outputs(self.classifier, generated)[0]))


def _probabilities(probabilities: np.ndarray) -> np.ndarray:
    p = np.asarray(probabilities, dtype=np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probabilities must be (N, C) with N >= 1, got shape {p.shape}")
    if (p < -1e-9).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("probabilities must be non-negative rows summing to 1")
    return p


def inception_score(probabilities: np.ndarray, eps: float = 1e-12) -> float:
    """exp(E_x KL(p(y|x) || p(y))) from per-image class probabilities (N, C).

    Between 1 (every image gets the same distribution) and C (confident and uniform over classes).
    """
    p = _probabilities(probabilities)
    py = p.mean(axis=0, keepdims=True)
    kl = (p * (np.log(p + eps) - np.log(py + eps))).sum(axis=1)
    return float(np.exp(kl.mean()))


def inception_score_parts(probabilities: np.ndarray, eps: float = 1e-12) -> dict[str, float]:
    """The two factors of :func:`inception_score`: ``effective_classes`` / ``sample_ambiguity`` = IS.

    ``effective_classes`` = exp H(p(y)), the number of equally likely classes the images spread over
    (C when balanced; a generator that drops digits lowers it). ``sample_ambiguity`` = exp E_x H(p(y|x)),
    the number of classes one image hesitates between (1 when each image is clearly one class; blurry
    or hybrid images raise it). Why: an IS below real data's says the generator is worse, the factors
    say how — missing modes or unclear images — which is what a fix must address.
    """
    p = _probabilities(probabilities)
    py = p.mean(axis=0)
    entropy = -(p * np.log(p + eps)).sum(axis=1).mean()
    return {"effective_classes": float(np.exp(-(py * np.log(py + eps)).sum())), "sample_ambiguity": float(np.exp(entropy))}


def classifier_inception_score(classifier: nn.Module, generated: torch.Tensor) -> float:
    """Classifier Inception-style score: :func:`inception_score` with the evaluator's probabilities."""
    return inception_score(classifier_outputs(classifier, generated)[1])


def class_share(classifier: nn.Module, generated: torch.Tensor, cls: int) -> float:
    """Share of generated images the evaluator assigns to class ``cls`` (~1/C for a balanced GAN)."""
    probs = classifier_outputs(classifier, generated)[1]
    if not 0 <= cls < probs.shape[1]:
        raise ValueError(f"cls must be in [0, {probs.shape[1] - 1}], got {cls!r}")
    return float((probs.argmax(axis=1) == cls).mean())


def membership_auc(member_scores: np.ndarray, nonmember_scores: np.ndarray) -> float:
    """ROC AUC of "member" scores against "non-member" scores: 0.5 = indistinguishable.

    Above 0.5: members score higher (they still look like training data); below 0.5: they score
    *lower* than unseen data, which is itself a trace of unlearning (the Streisand effect).
    """
    m, n = np.asarray(member_scores, dtype=np.float64).ravel(), np.asarray(nonmember_scores, dtype=np.float64).ravel()
    if len(m) == 0 or len(n) == 0:
        raise ValueError(f"membership_auc needs scores in both groups, got {len(m)} members and {len(n)} non-members")
    if not (np.isfinite(m).all() and np.isfinite(n).all()):
        raise ValueError("membership scores must be finite")
    return float(roc_auc_score(np.r_[np.ones(len(m)), np.zeros(len(n))], np.r_[m, n]))


@torch.no_grad()
def discriminator_scores(discriminator: nn.Module, images: torch.Tensor, batch_size: int = 500) -> np.ndarray:
    """The discriminator's real/fake logit for each image (images in [0, 1], mapped to [-1, 1])."""
    device = next(discriminator.parameters()).device
    was_training = discriminator.training
    discriminator.eval()
    out = [discriminator(images[i : i + batch_size].to(device) * 2.0 - 1.0).reshape(-1).cpu() for i in range(0, len(images), batch_size)]
    discriminator.train(was_training)
    return torch.cat(out).double().numpy()


def discriminator_membership_auc(discriminator: nn.Module, members: torch.Tensor, nonmembers: torch.Tensor) -> float:
    """Membership signal of the discriminator: AUC of its scores on the unlearned items against
    held-out real images of the same kind (ideal: the retrained GAN's value, near 0.5)."""
    return membership_auc(discriminator_scores(discriminator, members), discriminator_scores(discriminator, nonmembers))


def inception_fid(real: torch.Tensor, generated: torch.Tensor, weights_path: str | os.PathLike, batch_size: int = 100) -> float:
    """Standard FID with an Inception-v3 feature extractor read from ``weights_path``.

    The file must be the TorchScript Inception of the FID reference (``inception-2015-12-05.pt``,
    as used by StyleGAN and clean-fid): called as ``net(uint8 images (N, 3, H, W), return_features=True)``
    it returns the 2048 pool features. Nothing is downloaded: bring the file yourself.

    Raises:
        FileNotFoundError: the weights file does not exist.
    """
    path = Path(weights_path)
    if not path.is_file():
        raise FileNotFoundError(
            f"Inception weights not found at {path}: the standard FID needs the TorchScript file "
            "inception-2015-12-05.pt, which cannot be downloaded here; use classifier_fid, or pass the path of a local copy"
        )
    net = torch.jit.load(str(path), map_location="cpu").eval()

    def feats(images: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(images), batch_size):
            x = images[i : i + batch_size]
            x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            with torch.no_grad():
                out.append(net((x.clamp(0, 1) * 255).round().to(torch.uint8), return_features=True).double())
        return torch.cat(out).numpy()

    return _fid_from_features(feats(real), feats(generated))


def downstream_accuracy(
    generated: torch.Tensor,
    evaluator: nn.Module,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    *,
    model: str = "small_cnn",
    model_kwargs: dict | None = None,
    epochs: int = 3,
    seed: int = 0,
    probabilities: np.ndarray | None = None,
) -> float:
    """Train a fresh classifier on generated images labelled by ``evaluator``; its real-test accuracy.

    The study's "downstream classification": a generator that lost a class yields a classifier
    that cannot recognise it, so restrict ``test_x`` to the other classes to read quality alone
    (:func:`downstream_classifier` once, then :func:`classifier_accuracy` per test set, fits it once).
    """
    net = downstream_classifier(
        generated, evaluator, model=model, model_kwargs=model_kwargs, epochs=epochs, seed=seed, probabilities=probabilities
    )
    return classifier_accuracy(net, test_x, test_y)


@torch.no_grad()
def classifier_accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Accuracy of ``net`` on images ``x`` with labels ``y`` (batched, on the net's device)."""
    from ..metrics.classification import accuracy

    device = next(net.parameters()).device
    logits = torch.cat([net(x[i : i + batch_size].to(device)).cpu() for i in range(0, len(x), batch_size)])
    return accuracy(logits, y.cpu())


def downstream_classifier(
    generated: torch.Tensor,
    evaluator: nn.Module,
    *,
    model: str = "small_cnn",
    model_kwargs: dict | None = None,
    epochs: int = 3,
    seed: int = 0,
    probabilities: np.ndarray | None = None,
) -> nn.Module:
    """The classifier behind :func:`downstream_accuracy`: trained (seeded) on ``generated`` labelled
    by ``evaluator``'s argmax, returned in eval mode so several test sets can be read from one fit.

    ``probabilities``: the evaluator's class probabilities of ``generated`` when the caller already has
    them (:func:`classifier_outputs`), which spares a second pass of the evaluator over the images."""
    from ..data.datasets import ArrayDataset
    from ..models import build_model
    from ..tasks import ClassificationTask
    from ..training import train_model

    if probabilities is None:
        probs = classifier_outputs(evaluator, generated)[1]
    else:
        probs = np.asarray(probabilities)
        if probs.ndim != 2 or len(probs) != len(generated):
            raise ValueError(f"probabilities must be (N, C) for the {len(generated)} generated images, got shape {probs.shape}")
    num_classes = probs.shape[1]
    labels = torch.from_numpy(probs.argmax(axis=1)).long()
    kwargs = {"in_channels": int(generated.shape[1]), "num_classes": num_classes, "input_size": int(generated.shape[-1])}
    kwargs.update(model_kwargs or {})
    device = next(evaluator.parameters()).device
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = build_model(model, **kwargs)
    data = ArrayDataset(generated.cpu(), labels, name="generated", num_classes=num_classes)
    net, _ = train_model(
        net, data, ClassificationTask(num_classes), {"epochs": epochs, "lr": 0.05}, device=device, seed=seed, desc="downstream"
    )
    return net.eval()


class _Features(nn.Module):
    """An evaluator's penultimate features as a torchmetrics feature extractor (images in [0, 1])."""

    def __init__(self, classifier: nn.Module, example: torch.Tensor) -> None:
        super().__init__()
        self.classifier = classifier
        with torch.no_grad():
            probe = example[:1].to(next(classifier.parameters()).device)
            self.num_features = int(penultimate_features(classifier.eval(), probe).shape[1])

        #: Set while :meth:`TorchmetricsFID.__call__` feeds features computed already: passed through as given.
        self.precomputed = False

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.precomputed else penultimate_features(self.classifier.eval(), x.float())


class TorchmetricsFID:
    """torchmetrics' ``FrechetInceptionDistance`` with ``classifier``'s penultimate features as the
    feature extractor (images in [0, 1]), fed the real images once: each call scores one generated set.

    Why a class: a study scores dozens of GANs against the same real test images; their statistics
    are kept across ``reset()`` (``reset_real_features=False``), so each call pays for the generated
    images only, with the same sums (same batches, same order) as a fresh metric would give.
    """

    def __init__(self, classifier: nn.Module, real: torch.Tensor, batch_size: int = 500) -> None:
        from torchmetrics.image.fid import FrechetInceptionDistance

        self.device = next(classifier.parameters()).device
        self.batch_size = batch_size
        self.features = _Features(classifier, real)
        self.metric = FrechetInceptionDistance(feature=self.features, reset_real_features=False).to(self.device)
        self._update(real, True)

    def _update(self, images: torch.Tensor, real: bool) -> None:
        for i in range(0, len(images), self.batch_size):
            self.metric.update(images[i : i + self.batch_size].to(self.device), real=real)

    def __call__(self, generated: torch.Tensor | None = None, *, features: torch.Tensor | np.ndarray | None = None) -> float:
        """The FID of one generated set: its images, or (``features=``) their penultimate features when
        the caller has them already (:func:`classifier_outputs` with the same batch size): the same sums
        in the same batches, so the same value, without another pass of the classifier."""
        if (generated is None) == (features is None):
            raise ValueError("give either the generated images or their features, not both or neither")
        try:
            if features is None:
                self._update(generated, False)
            else:
                f = torch.as_tensor(features).float()  # classifier_outputs' float64 copy of float32 features: exact
                if f.ndim != 2 or f.shape[1] != self.features.num_features:
                    raise ValueError(f"features must be (N, {self.features.num_features}), got shape {tuple(f.shape)}")
                self.features.precomputed = True
                try:
                    self._update(f, False)
                finally:
                    self.features.precomputed = False
            return float(self.metric.compute())
        finally:
            self.metric.reset()  # drops the generated images' sums, keeps the real ones


def torchmetrics_fid(classifier: nn.Module, real: torch.Tensor, generated: torch.Tensor, batch_size: int = 500) -> float:
    """FID computed by torchmetrics' ``FrechetInceptionDistance`` with ``classifier``'s penultimate
    features as the feature extractor (images in [0, 1]); :class:`TorchmetricsFID` for many sets.

    Why both this and :func:`classifier_fid`: torchmetrics is the FID implementation most papers use,
    so its value (float64 statistics, its own matrix square root) is the one to quote; the two agree
    to numerical precision on the same features, which the tests check.
    """
    return TorchmetricsFID(classifier, real, batch_size)(generated)


@torch.no_grad()
def nearest_neighbours(pool: torch.Tensor, queries: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """For every query image, the pixel L2 distance to its nearest image in ``pool`` and that image's index.

    Exact distances (a copy of a pool image is at 0, not at 1e-6); images in [0, 1]."""
    if len(pool) == 0 or len(queries) == 0:
        raise ValueError(f"pool and queries must be non-empty, got {len(pool)} and {len(queries)} images")
    if tuple(pool.shape[1:]) != tuple(queries.shape[1:]):
        raise ValueError(f"pool images {tuple(pool.shape[1:])} and queries {tuple(queries.shape[1:])} differ in shape")
    g = pool.flatten(1).double()
    exact = "donot_use_mm_for_euclid_dist"
    found = [torch.cdist(t.flatten(1).double(), g, compute_mode=exact).min(dim=1) for t in queries.split(256)]
    return torch.cat([f.values for f in found]).numpy(), torch.cat([f.indices for f in found]).numpy()


def nearest_neighbour_distances(generated: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """For every target image, the pixel L2 distance to its nearest generated image (images in [0, 1]).

    Item unlearning's memorisation probe: compare the forgotten images' distances with those of
    held-out images of the same kind; a GAN that reproduces the forgotten images puts samples closer
    to them than to unseen ones (ratio < 1), a GAN that never saw them does not (ratio ~ 1).
    """
    return nearest_neighbours(generated, targets)[0]
