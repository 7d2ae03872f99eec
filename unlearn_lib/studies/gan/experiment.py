"""The GAN unlearning experiment as library code, so notebook 05 and the benchmark stay thin.

``GANExperiment`` holds the real data, the evaluator classifier and the original GAN (both cached on
disk); ``run`` applies each GAN strategy to one forget request, evaluates the result and records
tidy rows: share of the forgotten class among generated images, classifier-FID (all digits, and the
other digits in class unlearning), classifier Inception-style score, the discriminator's membership
AUC on the unlearned items, downstream accuracy, wall time and speed-up over ``gan_retrain``.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from ...cache import ArtifactInfo, fingerprint
from ...data.datasets import ArrayDataset
from ...data.splits import ForgetSplit
from ...experiments.base import Experiment, Values
from ...metrics.gan import (
    TorchmetricsFID,
    classifier_accuracy,
    classifier_outputs,
    discriminator_membership_auc,
    downstream_accuracy,
    downstream_classifier,
    inception_fid,
    inception_score,
    inception_score_parts,
    nearest_neighbour_distances,
)
from ...results import ResultsRecorder
from ...utils import resolve_device
from .base import GANUnlearnResult, forget_classes, unlearn_gan
from .canaries import CanarySet, plant_in_dataset
from .canary_metrics import extraction_threshold
from .canary_request import CanaryPlan, canary_values
from .evaluator import load_or_train_evaluator
from .training import GAN, GANTrainConfig, load_or_train_gan, sample

__all__ = ["ForgetRequest", "GANExperiment", "plan_requests", "quality"]


#: A GAN forget request is the one :class:`~unlearn_lib.data.ForgetSplit` type (no validation part: a
#: GAN holds none out); kept as a name for readability.
ForgetRequest = ForgetSplit
NO_VAL = np.array([], dtype=np.int64)


def plan_requests(
    parts: Sequence[str], request_sizes: Sequence[int], forget_class: int, forget_classes: Sequence[int]
) -> dict[str, tuple[str, int | list[int]]]:
    """The forget requests one run of notebook 05 makes, by scenario name in the study's order:
    ``{"items_16": ("items", 16), ..., "class_7": ("class", 7), "class_3+8": ("class", [3, 8])}``.

    ``parts`` picks them: ``"items"`` (every size in ``request_sizes``), ``"classes"`` (the one-digit and
    the multi-digit request), ``"canaries"`` (every planted canary: ``("canaries", [])``, run on an
    experiment prepared with ``canaries=``) or a request's own name. Why names: every request starts from the same
    cached original and none depends on another, so the batch can give each its own task (a profile's
    ``split: parts``) and merge them; the slowest request, not the sum, then sets the notebook's wall time.
    """
    every: dict[str, tuple[str, int | list[int]]] = {f"items_{int(n)}": ("items", int(n)) for n in request_sizes}
    classes = {f"class_{forget_class}": ("class", forget_class)}
    if forget_classes:
        classes["class_" + "+".join(map(str, forget_classes))] = ("class", list(forget_classes))
    groups = {"items": list(every), "classes": list(classes)}
    every |= classes
    every["canaries"] = ("canaries", [])
    unknown = [p for p in parts if p not in groups and p not in every]
    if unknown or not parts or len(set(parts)) != len(parts):
        raise ValueError(
            f"parts must be distinct entries of 'items' (every item request), 'classes' (every class request), "
            f"'canaries' (the planted canaries) or a request's name of this configuration {list(every)}, got {list(parts)}"
        )
    chosen = {name for p in parts for name in groups.get(p, [p])}
    return {name: spec for name, spec in every.items() if name in chosen}


@dataclass
class GANExperiment(Experiment):
    """One training set, its evaluator and its original GAN; forget requests are drawn from it."""

    modality: ClassVar[str] = "generation"
    reference: ClassVar[str] = "gan_retrain"

    train: ArrayDataset
    test: ArrayDataset
    recipe: GANTrainConfig
    evaluator: nn.Module
    original: GAN
    info: dict[str, Any]
    n_generated: int = 1000
    downstream_epochs: int = 3
    seed: int = 0
    classifier_width: float = 1.0
    #: The latest run's results per method; ``gans[scenario][method]`` keeps every scenario's GANs for sample grids.
    results: dict[str, Any] = field(default_factory=dict)
    #: Samples kept per model for drill-down (the first codes of the fixed latent draw).
    n_samples_kept: int = 64
    gans: dict[str, dict[str, GAN]] = field(default_factory=dict)
    #: Where the original GAN and the evaluator came from (trained now or read from the artifact
    #: cache, with the training time measured then): print ``describe()`` in a notebook.
    original_info: ArtifactInfo | None = None
    evaluator_info: ArtifactInfo | None = None
    #: The original's quality checks (``iteration``, ``seconds``, ``classifier_is``, ``downstream_accuracy``).
    curve: list[dict[str, float]] = field(default_factory=list)
    #: The fixed-length recipe retraining repeats: the original's, for as many iterations as it took.
    retrain_recipe: GANTrainConfig | None = None
    cache_dir: str | os.PathLike | None = None
    use_cache: bool = True
    #: Retrained GANs go through the artifact cache, one per request (retain set), with their measured time.
    cache_retrain: bool = True
    #: The planted canaries when prepared with ``canaries=`` (``train`` then holds their copies), the
    #: plan that planted them, and the extraction threshold (pixel L2, from held-out digits).
    canaries: CanarySet | None = None
    canary_plan: CanaryPlan | None = None
    extraction_threshold: float | None = None
    #: The original's request-independent quality per latent draw (``seed``), and one FID metric per
    #: real image set (its statistics computed once): evaluation work that does not change with the request.
    _original_quality: dict[int, SampleQuality] = field(default_factory=dict, init=False, repr=False)
    _fids: dict[tuple[int, ...], TorchmetricsFID] = field(default_factory=dict, init=False, repr=False)
    #: What this experiment is asked to forget: set by :meth:`for_request` on the view that runs it.
    _request: ForgetRequest | None = field(default=None, init=False, repr=False)

    @classmethod
    def prepare(
        cls,
        train: ArrayDataset,
        test: ArrayDataset,
        recipe: GANTrainConfig | Mapping[str, Any],
        *,
        evaluator_epochs: int = 5,
        classifier_width: float = 1.0,
        n_generated: int = 1000,
        downstream_epochs: int = 3,
        cache_dir: str | os.PathLike | None = None,
        use_cache: bool = True,
        canaries: CanaryPlan | Mapping[str, Any] | None = None,
        evaluator_seed: int | None = None,
    ) -> GANExperiment:
        """Validate everything, then load or train the evaluator and the original GAN (both through the
        artifact cache rooted at ``cache_dir``; ``use_cache=False`` trains both and stores neither).

        ``classifier_width`` scales the ``small_cnn`` of the evaluator and of the downstream
        classifiers (1.0 is the library's MNIST classifier; smaller only for tests).

        ``canaries`` (a :class:`~unlearn_lib.studies.gan.canary_request.CanaryPlan` or its dict) plants
        canaries in ``train`` with the recipe's seed *after* the evaluator is trained (the evaluator
        judges digits, and never sees an inverted one), so the original GAN is trained on the planted
        set and :meth:`canary_request` can ask it to forget them. The extraction threshold comes from
        the test digits against the ordinary training digits.

        ``evaluator_seed`` (default: the recipe's seed) trains the evaluator: the instrument every
        score is read with. Seeds of originals pass one evaluator seed for all, so that two originals
        differ by their training, never by the ruler they are measured with.
        """
        rec = recipe if isinstance(recipe, GANTrainConfig) else GANTrainConfig.from_dict(recipe)
        plan = None if canaries is None else CanaryPlan.from_value(canaries)
        for name, value in (("evaluator_epochs", evaluator_epochs), ("n_generated", n_generated), ("downstream_epochs", downstream_epochs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        if evaluator_seed is not None and (not isinstance(evaluator_seed, int) or isinstance(evaluator_seed, bool) or evaluator_seed < 0):
            raise ValueError(f"evaluator_seed must be a non-negative int or None (the recipe's seed), got {evaluator_seed!r}")
        if not isinstance(classifier_width, (int, float)) or classifier_width <= 0:
            raise ValueError(f"classifier_width must be a positive number, got {classifier_width!r}")
        if n_generated < 20:
            raise ValueError(f"n_generated must be >= 20 for the feature statistics of the classifier-FID, got {n_generated}")
        if tuple(train.x.shape[1:]) != tuple(test.x.shape[1:]):
            raise ValueError(f"train images {tuple(train.x.shape[1:])} and test images {tuple(test.x.shape[1:])} differ")
        evaluator, ev_info = load_or_train_evaluator(
            train,
            test,
            model_kwargs={"width": float(classifier_width)},
            config={"epochs": evaluator_epochs},
            seed=rec.seed if evaluator_seed is None else evaluator_seed,
            device=rec.device,
            cache_dir=cache_dir,
            use_cache=use_cache,
        )
        evaluator.eval()
        width = float(classifier_width)
        canary_set, threshold = None, None
        if plan is not None:
            train, canary_set = plant_in_dataset(train, duplicates=plan.duplicates, per_level=plan.per_level, kind=plan.kind, seed=rec.seed)  # type: ignore[arg-type]
            ordinary = train.x[torch.from_numpy(np.array(canary_set.ordinary))]  # a writable copy
            threshold = extraction_threshold(test.x, ordinary, quantile=plan.quantile)

        def monitor(g: GAN) -> dict[str, float]:
            return quality(g, evaluator, test, n_generated=n_generated, downstream_epochs=downstream_epochs, width=width, seed=rec.seed)

        key = f"evaluator={ev_info['artifact'].key};test={fingerprint(test)};n={n_generated};epochs={downstream_epochs};width={width}"
        gan, gan_info = load_or_train_gan(train, rec, cache_dir=cache_dir, use_cache=use_cache, monitor=monitor, monitor_key=key)
        info = {
            "evaluator_test_accuracy": ev_info["test_accuracy"],
            "evaluator_cached": ev_info["cached"],
            "original_seconds": gan_info["seconds"],
            "original_cached": gan_info["cached"],
            "original_iterations": gan_info["stopped_at"],
            "original_steps": gan_info["steps"],
        }
        exp = cls(train, test, rec, evaluator, gan, info, n_generated, downstream_epochs, rec.seed, width)
        exp.original_info, exp.evaluator_info = gan_info["artifact"], ev_info["artifact"]
        exp.curve, exp.retrain_recipe = gan_info["curve"], gan_info["recipe"]
        exp.cache_dir, exp.use_cache = cache_dir, use_cache
        exp.canaries, exp.canary_plan, exp.extraction_threshold = canary_set, plan, threshold
        return exp

    @property
    def device(self) -> torch.device:
        return resolve_device(self.recipe.device)

    # ----------------------------------------------------------------------------------- requests
    def _ordinary(self) -> np.ndarray:
        """Indices of the ordinary training digits (all of them unless canaries were planted)."""
        return np.arange(len(self.train)) if self.canaries is None else np.asarray(self.canaries.ordinary)

    def item_request(self, n_items: int, seed: int | None = None) -> ForgetRequest:
        """``n_items`` ordinary training images drawn uniformly at random (all classes): item unlearning."""
        pool = self._ordinary()
        n = len(pool)
        if not isinstance(n_items, int) or isinstance(n_items, bool) or not 1 <= n_items < n:
            raise ValueError(f"n_items must be an int in [1, {n - 1}], got {n_items!r}")
        rng = np.random.default_rng(self.seed if seed is None else seed)
        forget = np.sort(pool[rng.choice(n, size=n_items, replace=False)])
        return ForgetSplit(np.setdiff1d(np.arange(len(self.train)), forget), forget, NO_VAL, "random", f"{n_items} random training images")

    def canary_request(self, levels: int | Sequence[int] | None = None) -> ForgetRequest:
        """Every copy of the planted canaries at ``levels`` (all levels by default): the request whose
        items the original memorised by design. Needs an experiment prepared with ``canaries=``."""
        if self.canaries is None:
            raise ValueError("this experiment has no planted canaries: prepare it with canaries={...} to make a canary request")
        levels = None if levels is None or (isinstance(levels, Sequence) and not levels) else levels
        forget = self.canaries.copy_indices(levels)
        shown = list(self.canaries.duplicates) if levels is None else levels
        what = f"every copy of the {self.canaries.kind} canaries planted {shown} times ({len(forget)} images)"
        retain = np.setdiff1d(np.arange(self.canaries.n_train), forget)  # the complement, without recomputing the copies
        return ForgetSplit(retain, forget, NO_VAL, "canaries", what)

    def request(self, spec: tuple[str, int | list[int]], seed: int) -> ForgetRequest:
        """The request ``spec`` (a value of :func:`plan_requests`) for the run seeded ``seed``: an item
        request draws afresh per seed and size (``seed * 1000 + size``), a class request is fixed."""
        kind, what = spec
        if kind == "items":
            return self.item_request(int(what), seed=seed * 1000 + int(what))  # type: ignore[arg-type]
        if kind == "canaries":
            return self.canary_request(what)  # type: ignore[arg-type]
        return self.class_request(what)

    def class_request(self, forget_class: int | Sequence[int]) -> ForgetRequest:
        """Every training image of ``forget_class`` (one digit, or a list of digits): class unlearning."""
        labels = self.train.labels
        known = set(labels.tolist())
        classes = [forget_class] if isinstance(forget_class, (int, str, float)) else list(forget_class)
        if not classes or any(not isinstance(c, int) or isinstance(c, bool) or c not in known for c in classes):
            raise ValueError(f"forget_class must be one of the classes {sorted(known)} or a non-empty list of them, got {forget_class!r}")
        if len(set(classes)) == len(known):
            raise ValueError(f"forget_class {forget_class!r} names every class: nothing would be retained")
        hit = np.isin(labels, classes)
        label = classes[0] if isinstance(forget_class, int) else tuple(sorted(set(classes)))
        what = f"class {label}" if isinstance(label, int) else f"classes {list(label)}"
        return ForgetSplit(np.flatnonzero(~hit), np.flatnonzero(hit), NO_VAL, "class", f"every training image of {what}", label)  # type: ignore[arg-type]

    # --------------------------------------------------------------------------------- evaluation
    def generate(self, gan: GAN, n: int | None = None) -> torch.Tensor:
        """Images of ``gan`` from the experiment's fixed latent draw (the same codes for every method)."""
        return sample(gan.generator, n or self.n_generated, gan.latent_dim, seed=self.seed + 7, device=self.device)

    def _downstream_classifier(self, images: torch.Tensor, probabilities: np.ndarray) -> nn.Module:
        kwargs = {"width": self.classifier_width}
        return downstream_classifier(
            images, self.evaluator, model_kwargs=kwargs, epochs=self.downstream_epochs, seed=self.seed, probabilities=probabilities
        )

    def _fid(self, classes: Sequence[int] = ()) -> TorchmetricsFID:
        """The classifier-FID against the test digits (less ``classes``), real statistics computed once."""
        key = tuple(sorted(int(c) for c in classes))
        if key not in self._fids:
            keep = ~torch.isin(self.test.y, torch.tensor(key, dtype=self.test.y.dtype)) if key else slice(None)
            self._fids[key] = TorchmetricsFID(self.evaluator, self.test.x[keep])
        return self._fids[key]

    def sample_quality(self, gan: GAN) -> SampleQuality:
        """What does not depend on the request: ``gan``'s samples from the fixed latent draw, the
        evaluator's probabilities of them, their classifier-FID, IS (and its factors) and downstream
        classifier. The original's is computed once per latent draw (``seed``) and reused by every request."""
        if gan is self.original and self.seed in self._original_quality:
            return self._original_quality[self.seed]
        gen = self.generate(gan)
        features, probs = classifier_outputs(self.evaluator, gen)  # the one evaluator pass over the samples
        net = self._downstream_classifier(gen, probs)
        values = {
            ("generated", "classifier_fid"): self._fid()(features=features),
            ("generated", "classifier_is"): inception_score(probs),
            **{("generated", k): v for k, v in inception_score_parts(probs).items()},
            ("test", "downstream_accuracy"): classifier_accuracy(net, self.test.x, self.test.y),
        }
        quality = SampleQuality(gen, features, probs, net, values)
        if gan is self.original:
            self._original_quality[self.seed] = quality
        return quality

    def is_factors(self, gan: GAN) -> dict[tuple[str, str], float]:
        """``gan``'s classifier-IS factors (effective classes, sample ambiguity) on the fixed latent draw."""
        values = self.sample_quality(gan).values
        return {k: v for k, v in values.items() if k[1] in ("effective_classes", "sample_ambiguity")}

    def evaluate_request(self, gan: GAN, request: ForgetRequest) -> dict[tuple[str, str], float]:
        """Every metric of one GAN for one forget request, as ``{(split, metric): value}``.

        FIDs are torchmetrics' ``FrechetInceptionDistance`` with the evaluator's penultimate features
        (``classifier_fid``), plus the Inception FID when ``$UNLEARN_INCEPTION_WEIGHTS`` names a local
        TorchScript Inception file. Nearest-neighbour distances are in pixels (L2 over 28x28). One
        downstream classifier per GAN serves both test sets (all digits, the other digits)."""
        quality = self.sample_quality(gan)
        gen = quality.generated
        test_x, test_y = self.test.x, self.test.y
        values = dict(quality.values)
        weights = os.environ.get("UNLEARN_INCEPTION_WEIGHTS")
        if weights and os.path.isfile(weights):
            values[("generated", "inception_fid")] = inception_fid(test_x, gen, weights)
        members = self.train.x[torch.from_numpy(request.forget)]
        nonmembers = test_x
        classes = forget_classes(request.forget_class)
        if request.kind == "canaries" and self.canaries is not None:
            # Extraction on a larger draw of its own (a copy is rare), and membership against the
            # never-planted controls: held-out images "like the forget set".
            assert self.canary_plan is not None and self.extraction_threshold is not None
            many = sample(gan.generator, self.canary_plan.n_samples, gan.latent_dim, seed=self.seed + 11, device=self.device)
            values.update(canary_values(many, self.canaries, self.extraction_threshold))
            members, nonmembers = self.canaries.images, self.canaries.control_images
        elif classes:
            forgotten = np.isin(quality.probabilities.argmax(axis=1), classes)
            values[("generated", "forgotten_class_share")] = float(forgotten.mean())
            other = quality.features[~forgotten]
            keep = ~torch.isin(test_y, torch.tensor(classes))
            values[("generated", "classifier_fid_other")] = self._fid(classes)(features=other) if len(other) >= 20 else float("nan")
            values[("test_other_classes", "downstream_accuracy")] = classifier_accuracy(quality.classifier, test_x[keep], test_y[keep])
            nonmembers = test_x[~keep]  # held-out images "like the forget set"
        else:  # item unlearning: is the GAN closer to the forgotten images than to unseen ones?
            held = self.heldout_images(len(members))
            d_forget = float(nearest_neighbour_distances(gen, members).mean())
            d_held = float(nearest_neighbour_distances(gen, held).mean())
            values[("forget", "nn_distance")] = d_forget
            values[("heldout", "nn_distance")] = d_held
            values[("forget", "nn_distance_ratio")] = d_forget / d_held
        values[("forget", "d_membership_auc")] = discriminator_membership_auc(gan.discriminator, members, nonmembers)
        return values

    def real_reference(self) -> dict[tuple[str, str], float]:
        """The quality criterion measured on ``n_generated`` real training digits (drawn with the seed;
        all of them if there are fewer, ``n_images`` says how many): the ceiling of the measurement,
        recorded beside the original's curve, with the IS's factors and the FID floor.

        Why: neither score has a reachable maximum (the evaluator is not certain of every real digit,
        and a classifier trained on ``n_generated`` images has its own limit), so the quality bar and the
        original are read against what real digits score under exactly the same measurement. The
        classifier-FID of real digits against the test digits is the FID floor of this sample size."""
        pool = self._ordinary()  # planted canaries are not "real digits"
        n = min(self.n_generated, len(pool))
        rng = np.random.default_rng(self.seed)
        real = self.train.x[torch.from_numpy(np.sort(pool[rng.choice(len(pool), size=n, replace=False)]))]
        features, probs = classifier_outputs(self.evaluator, real)
        return {
            ("generated", "classifier_is"): inception_score(probs),
            ("test", "downstream_accuracy"): classifier_accuracy(self._downstream_classifier(real, probs), self.test.x, self.test.y),
            ("generated", "classifier_fid"): self._fid()(features=features),
            **{("generated", k): v for k, v in inception_score_parts(probs).items()},
            ("generated", "n_images"): float(n),  # fewer than n_generated when the training set is smaller
        }

    def heldout_images(self, n: int) -> torch.Tensor:
        """The ``n`` test images (at most all) an item request's forgotten images are compared with, drawn
        with the run's seed: the nearest-neighbour ratio's denominator, kept for the explorer too."""
        rng = np.random.default_rng(self.seed)
        return self.test.x[torch.from_numpy(rng.choice(len(self.test.x), size=min(n, len(self.test.x)), replace=False))]

    # ------------------------------------------------------------------------------------ running
    def unlearn_method(self, method: str, config: Any, recorder: ResultsRecorder, scenario: str) -> GANUnlearnResult:
        request = self._request
        if method == self.reference and self.cache_retrain and self.retrain_recipe is not None:
            return self.retrain(request)
        return unlearn_gan(
            method,
            self.original,
            retain=self.train.subset(request.retain, "retain"),
            forget=self.train.subset(request.forget, "forget"),
            recipe=self.recipe,
            config=config,
            forget_class=request.forget_class,
            classifier=self.evaluator,
            device=self.device,
            seed=self.seed,
        )

    def retrain(self, request: ForgetRequest) -> GANUnlearnResult:
        """``gan_retrain`` through the artifact cache: a fresh GAN, the original's recipe for the
        original's number of iterations (:attr:`retrain_recipe`), trained on the retained images once
        per request; its seconds and steps are those measured when it was trained."""
        retain = self.train.subset(request.retain, "retain")
        gan, info = load_or_train_gan(retain, self.retrain_recipe, cache_dir=self.cache_dir, use_cache=self.use_cache)
        measured = info["artifact"].steps  # counted by the optimizer-step hook while it trained
        return GANUnlearnResult(
            self.reference, gan, float(info["seconds"]), {}, [], steps=int(measured if measured is not None else info["steps"])
        )

    def for_request(self, request: ForgetRequest) -> GANExperiment:
        """This experiment asked to forget ``request``: ``run`` it with every method (rows with speed-up over
        ``gan_retrain``). It shares the original, the evaluator and their cached evaluations with this one
        (nothing is trained or scored twice), and its runs' GANs join ``self.gans[scenario]`` for sample
        grids; this experiment itself is left as it was."""
        if not isinstance(request, ForgetRequest):
            raise ValueError(
                f"request must be a ForgetRequest (see request(), item_request(), class_request()), got {type(request).__name__}"
            )
        view = copy.copy(self)  # shallow: the shared dicts (gans, the original's quality, the FIDs) stay shared
        view._request, view.results = request, {}
        return view

    def original_cost(self) -> tuple[float | None, int | None]:
        return self.info["original_seconds"], self.info["original_steps"]

    def check(self, methods: Sequence[str], hparams: Mapping[str, Any] | None) -> dict[str, Any]:
        if self._request is None:
            raise ValueError("this experiment has no forget request: run exp.for_request(request).run(...)")
        return super().check(methods, hparams)

    def end_run(self, scenario: str, per_method: dict[str, Values]) -> None:
        """Keep this run's GANs (the original's too when it has a row) in ``gans[scenario]``."""
        gans = {"original": self.original} if "original" in per_method else {}
        self.gans[scenario] = {**gans, **{m: r.gan for m, r in self.results.items()}}

    def record_examples(self, recorder: ResultsRecorder, scenario: str, methods: Sequence[str], **extra: Any) -> None:
        """Every model's samples from the same fixed latent codes, as uint8 images in ``arrays.npz``
        (``samples/<scenario>[/<forget_size>]/seed<seed>/<method>``), so methods compare image for image.

        An item request also keeps its forgotten images (``forgotten/<same tag>``) and the held-out images
        its nearest-neighbour ratio compares them with (``heldout/<same tag>``): the explorer shows each
        sample's nearest of both, which it cannot rebuild from the dataset (the items are a random draw)."""
        tag = "/".join([scenario, *(str(v) for v in extra.values()), f"seed{self.seed}"])
        for method in methods:
            gan = self.original if method == "original" else self.results[method].gan
            recorder.add_array(f"samples/{tag}/{method}", _uint8(self.generate(gan, self.n_samples_kept)))
        request = self._request
        if request.kind == "canaries" and self.canaries is not None:  # each canary once, beside its control
            recorder.add_array(f"forgotten/{tag}", _uint8(self.canaries.images))
            recorder.add_array(f"heldout/{tag}", _uint8(self.canaries.control_images))
        elif not forget_classes(request.forget_class):
            members = self.train.x[torch.from_numpy(request.forget)]
            recorder.add_array(f"forgotten/{tag}", _uint8(members))
            recorder.add_array(f"heldout/{tag}", _uint8(self.heldout_images(len(members))))

    def evaluate(self, gan: GAN) -> dict[tuple[str, str], float]:  # type: ignore[override]
        return self.evaluate_request(gan, self._request)


@dataclass(frozen=True)
class SampleQuality:
    """One GAN's request-independent evaluation (see :meth:`GANExperiment.sample_quality`)."""

    generated: torch.Tensor
    features: np.ndarray  # the evaluator's penultimate features of ``generated`` (the FIDs' input)
    probabilities: np.ndarray
    classifier: nn.Module  # the downstream classifier, trained on ``generated``
    values: dict[tuple[str, str], float]


def _uint8(images: torch.Tensor) -> np.ndarray:
    """Images in [0, 1] as uint8 (what ``arrays.npz`` keeps: a quarter of float32)."""
    return (images.clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()


def quality(
    gan: GAN,
    evaluator: nn.Module,
    test: ArrayDataset,
    *,
    n_generated: int,
    downstream_epochs: int,
    width: float,
    seed: int,
) -> dict[str, float]:
    """The quality criterion the original's training stops on: the evaluator's Inception-style score
    of ``n_generated`` samples, and the real-test accuracy of a classifier trained only on them."""
    gen = sample(gan.generator, n_generated, gan.latent_dim, seed=seed + 7, device=next(gan.generator.parameters()).device)
    probs = classifier_outputs(evaluator, gen)[1]  # one evaluator pass serves both scores
    return {
        "classifier_is": inception_score(probs),
        "downstream_accuracy": downstream_accuracy(
            gen, evaluator, test.x, test.y, model_kwargs={"width": width}, epochs=downstream_epochs, seed=seed, probabilities=probs
        ),
    }
