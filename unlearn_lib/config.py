"""Typed, validated parameter dataclasses (strategies, training recipes, notebook parameters).

Types are exact: an ``int`` field refuses ``3.7`` and ``True``, a ``float`` field refuses NaN and
infinity (``lr <= 0`` is false for NaN, so a range check alone would let it through), and an unknown
key is refused naming the closest valid one.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

from .registry import closest

__all__ = ["StrategyConfig", "TypedConfig", "check_methods", "resolve_config", "type_name"]


def _type_ok(value: Any, tp: Any) -> bool:
    origin = get_origin(tp)
    if tp is Any:
        return True
    if origin is Literal:
        return value in get_args(tp)
    if origin in (Union, types.UnionType):
        return any(_type_ok(value, arm) for arm in get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if origin in (tuple, list):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return isinstance(value, (tuple, list)) and all(_type_ok(v, args[0]) for v in value) if args else isinstance(value, (tuple, list))
    if origin is dict:
        args = get_args(tp)
        return isinstance(value, dict) and (not args or all(_type_ok(k, args[0]) and _type_ok(v, args[1]) for k, v in value.items()))
    return isinstance(value, tp) if isinstance(tp, type) else True


def type_name(tp: Any) -> str:
    """``int``, ``list[str]``, ``int | None``: a type as a person writes it, for error messages."""
    if isinstance(tp, type) and not get_args(tp):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _non_finite(value: Any) -> bool:
    """A NaN or infinite float in ``value`` or in its list."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):  # a dict's values are checked by the config that reads them
        return any(_non_finite(v) for v in value)
    return False


@dataclass
class TypedConfig:
    """Typed fields checked on construction, ranges in :meth:`check`, built from a dict by :meth:`from_dict`."""

    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, hints[f.name]):
                raise ValueError(f"{self._where(f.name)} must be {type_name(hints[f.name])}, got {value!r} ({type(value).__name__})")
            if _non_finite(value):
                raise ValueError(f"{self._where(f.name)} must be finite, got {value!r}")
            if hints[f.name] is float and isinstance(value, int):
                setattr(self, f.name, float(value))
        self.check()

    def check(self) -> None:
        """Range checks; raise ``ValueError`` naming the field."""

    @classmethod
    def _where(cls, name: str) -> str:
        """How a field is named in an error: ``ScrubConfig.lr``."""
        return f"{cls.__name__}.{name}"

    def _positive(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) <= 0:
                raise ValueError(f"{type(self).__name__}.{name} must be > 0, got {getattr(self, name)!r}")

    def _in_range(self, name: str, low: float, high: float, *, high_open: bool = False) -> None:
        """``low <= value <= high`` (``< high`` with ``high_open``), else a ``ValueError`` naming the field."""
        value = getattr(self, name)
        if value is not None and not (low <= value and (value < high if high_open else value <= high)):
            raise ValueError(f"{type(self).__name__}.{name} must be in [{low}, {high}{')' if high_open else ']'}, got {value!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None) -> StrategyConfig:
        """Build from overrides; ``preset`` picks a named setting first. Unknown keys are refused."""
        values = dict(values or {})
        preset = values.pop("preset", None)
        merged: dict[str, Any] = {}
        if preset is not None:
            if preset not in cls.presets:
                raise ValueError(f"{cls.__name__}: unknown preset {preset!r}; valid presets: {sorted(cls.presets)}")
            merged.update(cls.presets[preset])
        merged.update(values)
        valid = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(merged) - set(valid), key=str)
        if unknown:
            hints = "".join(closest(k, valid) for k in unknown)
            raise ValueError(f"{cls.__name__}: unknown {cls._noun()}(s) {unknown}{hints}; valid: {valid}")
        required = [
            f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        ]
        missing = [k for k in required if k not in merged]
        if missing:
            raise ValueError(f"{cls.__name__}: missing {cls._noun()}(s) {missing}")
        return cls(**merged)

    @classmethod
    def _noun(cls) -> str:
        return "hyper-parameter"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class StrategyConfig(TypedConfig):
    """Base of every strategy's hyper-parameters: typed, validated, buildable from a dict.

    Subclasses declare fields with paper defaults and may override :meth:`check` for ranges, and
    ``presets`` for named settings (SCRUB's small- and large-scale ones). ``TUNED`` names the one
    knob a study tunes on validation (:mod:`unlearn_lib.experiments.tuning`); None means ``lr`` where
    the config has one.
    """

    TUNED: ClassVar[str | None] = None


def resolve_config(method: str, config_cls: type[StrategyConfig], config: StrategyConfig | Mapping[str, Any] | None) -> StrategyConfig:
    """Validate ``config`` for ``method``: a dict of overrides, an instance of ``config_cls``, or None."""
    if isinstance(config, StrategyConfig):
        if not isinstance(config, config_cls):
            raise ValueError(f"config for {method!r} must be a {config_cls.__name__}, got {type(config).__name__}")
        return config
    if config is not None and not isinstance(config, Mapping):
        raise ValueError(f"config for {method!r} must be a dict or {config_cls.__name__}, got {type(config).__name__}")
    return config_cls.from_dict(config)


def check_methods(methods: Sequence[str], hparams: Mapping[str, Any] | None, make: Callable[[str, Any], StrategyConfig]) -> dict[str, Any]:
    """Validate every method name and its hyper-parameters before the first method runs.

    ``make`` is the registry's config builder (``make_config`` for strategies, ``make_gan_config``
    for GAN strategies); an unknown name or a bad value raises there. Returns ``hparams`` as a dict.

    Raises:
        ValueError: hyper-parameters given for a method that is not in ``methods``.
    """
    if isinstance(methods, str) or not list(methods):
        raise ValueError(f"methods must be a non-empty list of method names, got {methods!r}")
    for m in methods:  # names first: a typo is reported as the typo, not as hparams for an absent method
        make(m, None)
    twice = sorted({m for m in methods if list(methods).count(m) > 1}, key=str)
    if twice:
        raise ValueError(f"methods names {twice} more than once")
    if hparams is not None and not isinstance(hparams, Mapping):
        raise ValueError(f"hparams must be a dict {{method: {{hyper-parameter: value}}}}, got {hparams!r}")
    hparams = dict(hparams or {})
    unknown = sorted(set(hparams) - set(methods), key=str)
    if unknown:
        hints = "".join(closest(k, methods) for k in unknown)
        raise ValueError(f"hparams given for methods not in the run: {unknown}{hints}; methods: {list(methods)}")
    for m in methods:
        if m in hparams:
            try:
                make(m, hparams[m])
            except ValueError as err:
                raise ValueError(f"hparams[{m!r}]: {err}") from None
    return hparams
