"""Every notebook's parameters as one typed schema, checked before any work.

The batch checks each task's parameters (the notebook's defaults, the profile, ``--set``) with
:func:`check_parameters` before the first task starts, and every notebook's ``start(...)`` checks them
again, so a notebook run by hand is refused just as early. Types are exact (an ``int`` refuses ``3.7``
and ``True``), method names and their hyper-parameters are built with the strategies' own configs,
recipes with the recipes' own, and an unknown name is refused with the closest valid one.

What only the data can tell (is ``forget_class`` one of its classes?) is checked by
:meth:`NotebookParams.check_data` as soon as the notebook loads its dataset, still before training.

A notebook without a registered schema (``@register_params``) gets the header's checks only
(``seed``, ``device``, ``threads``).

Each study's schema lives in its study's package (``unlearn_lib/studies/<study>/params.py``, named in
:data:`SCHEMA_MODULES`), imported only when that notebook's parameters are checked. Why: a batch task's
key follows the library modules its kernel imported, so a change to notebook 05's parameters must not
rerun notebooks 01-04. This module keeps what every schema shares: the base class, the registry and the checks.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..config import StrategyConfig, TypedConfig, resolve_config
from ..registry import closest

__all__ = [
    "HEADER",
    "SCHEMA_MODULES",
    "NotebookParams",
    "check_parameters",
    "params_schema",
    "register_params",
]

#: The header every notebook's ``start(...)`` takes besides ``parameters``.
HEADER = ("seed", "device", "threads")
#: Set by the batch or the notebook's header, never part of a schema.
PLACES = ("output_dir", "figures_dir", "run_id")
_DEVICE = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")

P = TypeVar("P", bound="NotebookParams")
_SCHEMAS: dict[str, type[NotebookParams]] = {}


def register_params(stem: str) -> Callable[[type[P]], type[P]]:
    """Make ``cls`` the parameter schema of notebook ``stem`` (checked by the batch and by ``start``)."""

    def deco(cls: type[P]) -> type[P]:
        _SCHEMAS[stem] = cls
        return cls

    return deco


#: The module holding each notebook's schema (in its study's package), imported on first use.
SCHEMA_MODULES: dict[str, str] = {
    "01_quickstart": "unlearn_lib.studies.classifiers.params",
    "02_scrub_and_baselines": "unlearn_lib.studies.classifiers.params",
    "03_segmentation_unlearning": "unlearn_lib.studies.segmentation.params",
    "04_medical_fairness": "unlearn_lib.studies.medical.params",
    "05_gan_unlearning": "unlearn_lib.studies.gan.params",
}


def params_schema(stem: str) -> type[NotebookParams] | None:
    """The registered schema of notebook ``stem``, or None (header checks only); its module is imported
    here, on first use, so a kernel imports the schema of its own notebook and no other."""
    if stem not in _SCHEMAS and stem in SCHEMA_MODULES:
        importlib.import_module(SCHEMA_MODULES[stem])
    return _SCHEMAS.get(stem)


@dataclass(kw_only=True)
class NotebookParams(TypedConfig):
    """The header every notebook shares. ``threads`` is pinned (0 is torch's machine-dependent default)."""

    seed: int = 0
    device: str = "auto"
    threads: int = 1

    @classmethod
    def _noun(cls) -> str:
        return "parameter"

    @classmethod
    def _where(cls, name: str) -> str:
        return f"parameter {name}"

    def check(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be an int >= 0, got {self.seed!r}")
        if self.threads < 0:
            raise ValueError(f"threads must be an int >= 0 (0: torch's default), got {self.threads!r}")
        if not _DEVICE.match(self.device):
            raise ValueError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {self.device!r}")

    def check_data(self, bundle: Any) -> None:
        """Checks that need the loaded data (class ranges, sizes); none for the header."""


def check_parameters(stem: str, values: Mapping[str, Any]) -> NotebookParams:
    """Check one notebook's parameters; returns the schema instance. ``output_dir``, ``figures_dir`` and
    ``run_id`` are ignored (the batch and ``start`` check those).

    Raises:
        ValueError: a wrong type, an unknown or missing parameter, a value out of range, an unknown
            method or hyper-parameter, a path that does not exist; the message starts with the notebook.
    """
    values = {k: v for k, v in values.items() if k not in PLACES}
    schema = params_schema(stem)
    try:
        if schema is None:
            return NotebookParams.from_dict({k: values[k] for k in HEADER if k in values})
        return schema.from_dict(values)
    except ValueError as err:
        raise ValueError(f"{stem}: {err}") from None


# -- shared pieces ---------------------------------------------------------------------------------


def _fail(name: str, expected: str, value: Any) -> None:
    raise ValueError(f"{name} must be {expected}, got {value!r}")


def _at_least(values: Mapping[str, Any], low: int | float) -> None:
    for name, value in values.items():
        if value is not None and value < low:
            _fail(name, f">= {low}", value)


def _non_empty(name: str, value: Sequence[Any]) -> None:
    if len(value) == 0:
        _fail(name, "a non-empty list", value)


def _distinct(name: str, value: Sequence[Any]) -> None:
    twice = sorted({v for v in value if list(value).count(v) > 1}, key=str)
    if twice:
        raise ValueError(f"{name} repeats {twice}")


def _check_dataset(name: str, kwargs: Mapping[str, Any], modality: str) -> None:
    """A registered dataset of ``modality``, its parameters known, a ``root`` that exists and is readable."""
    from ..data.registry import DATASETS, _check_kwargs

    spec = DATASETS.get(name)
    if spec.modality != modality:
        raise ValueError(f"dataset {name!r} is a {spec.modality} dataset; this notebook needs a {modality} one")
    params = spec.parameters()
    accepted = [p for p in params if p != "seed"]
    unknown = sorted(k for k in kwargs if k not in params)
    if unknown:
        hints = "".join(closest(k, accepted) for k in unknown)
        raise ValueError(f"dataset_kwargs: dataset {name!r} does not take {unknown}{hints}; its parameters are {accepted}")
    _check_kwargs(spec, {"seed": 0, **kwargs} if "seed" in params else kwargs)
    root = kwargs.get("root")
    if root is not None:
        check_readable(root, "dataset_kwargs.root")


def check_readable(path: Any, name: str, *, directory: bool | None = None) -> Path:
    """``path`` exists and can be read (and is a directory, or a file, when ``directory`` says so)."""
    if not isinstance(path, (str, os.PathLike)):
        _fail(name, "a path (str)", path)
    p = Path(path).expanduser()
    if not p.exists():
        raise ValueError(f"{name}: {p} does not exist")
    if directory is True and not p.is_dir():
        raise ValueError(f"{name}: {p} is not a directory")
    if directory is False and not p.is_file():
        raise ValueError(f"{name}: {p} is not a file")
    if not os.access(p, os.R_OK | (os.X_OK if p.is_dir() else 0)):
        raise ValueError(f"{name}: {p} is not readable")
    return p


def _check_model(name: str) -> None:
    from ..models import MODELS

    MODELS.get(name)


def _strategy_maker(modality: str) -> Callable[[str, Any], StrategyConfig]:
    from ..strategies.base import get_strategy

    return lambda m, c: resolve_config(m, get_strategy(m, modality).Config, c)


def _check_train_recipe(recipe: Mapping[str, Any]) -> None:
    from ..training import TrainConfig

    TrainConfig.from_dict(recipe)


def _check_classes(bundle: Any, **classes: Any) -> None:
    """Each named class (or list of classes) is a class of the loaded training data."""
    import numpy as np

    present = sorted(set(np.unique(bundle.train.labels).tolist()))
    for name, value in classes.items():
        for c in value if isinstance(value, (list, tuple)) else [value]:
            if c not in present:
                raise ValueError(f"{name}={value!r}: class {c} is not in the training data of {bundle.name!r} (classes {present})")
