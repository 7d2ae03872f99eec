"""Typed, validated hyper-parameter dataclasses (strategies, training recipes)."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Union, get_args, get_origin, get_type_hints

__all__ = ["StrategyConfig", "check_methods", "resolve_config"]


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
        return isinstance(value, dict)
    return isinstance(value, tp) if isinstance(tp, type) else True


@dataclass
class StrategyConfig:
    """Base of every strategy's hyper-parameters: typed, validated, buildable from a dict.

    Subclasses declare fields with paper defaults and may override :meth:`check` for ranges, and
    ``presets`` for named settings (SCRUB's small- and large-scale ones).
    """

    presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __post_init__(self) -> None:
        hints = get_type_hints(type(self))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if not _type_ok(value, hints[f.name]):
                raise ValueError(f"{type(self).__name__}.{f.name} must be {hints[f.name]!s}, got {value!r} ({type(value).__name__})")
            if hints[f.name] is float and isinstance(value, int):
                setattr(self, f.name, float(value))
        self.check()

    def check(self) -> None:
        """Range checks; raise ``ValueError`` naming the field."""

    def _positive(self, *names: str) -> None:
        for name in names:
            if getattr(self, name) <= 0:
                raise ValueError(f"{type(self).__name__}.{name} must be > 0, got {getattr(self, name)!r}")

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
        unknown = sorted(set(merged) - set(valid))
        if unknown:
            raise ValueError(f"{cls.__name__}: unknown hyper-parameter(s) {unknown}; valid: {valid}")
        return cls(**merged)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


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
    hparams = dict(hparams or {})
    unknown = sorted(set(hparams) - set(methods))
    if unknown:
        raise ValueError(f"hparams given for methods not in the run: {unknown}")
    for m in methods:
        make(m, hparams.get(m))
    return hparams
