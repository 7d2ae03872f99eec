"""Profiles (YAML parameter sets) and ``--set`` overrides, checked before any work starts."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "LARGE_ENV",
    "MAGNITUDES",
    "PROFILES_DIR",
    "RESERVED",
    "SPLIT_KEY",
    "Override",
    "check_magnitudes",
    "check_profile_notebooks",
    "list_profiles",
    "load_profile",
    "merge_sections",
    "parse_set",
    "profile_path",
]

PROFILES_DIR = Path(__file__).resolve().parent.parent / "profiles"
RESERVED = ("output_dir", "figures_dir", "run_id")
PROFILE_KEYS = ("description", "extends", "defaults", "notebooks")
SEED_KEYS = ("seed", "seeds")
#: A notebook section's ``split: PARAM`` runs one task per element of the list parameter PARAM (each task
#: gets a one-element list); the batch merges the parts' results afterwards (see :mod:`.merge`).
SPLIT_KEY = "split"


#: The largest count a parameter of this kind takes without ``UNLEARN_ALLOW_LARGE=1`` (matched on the last
#: part of its name, nested keys too): 50x the paper profile's largest (200 epochs, 40,000 GAN iterations).
#: Why: ``recipe.epochs: 1000000000`` was accepted and ran until killed.
MAGNITUDES = {"epochs": 10_000, "iterations": 2_000_000, "steps": 2_000_000, "seeds": 1_000, "threads": 256}
#: Set to ``1`` to run counts above :data:`MAGNITUDES` on purpose.
LARGE_ENV = "UNLEARN_ALLOW_LARGE"


def check_magnitudes(params: Any, where: str, _path: str = "") -> None:
    """Refuse a count above :data:`MAGNITUDES` anywhere in ``params`` (nested dicts too), naming its path and
    ``where`` it came from, unless ``UNLEARN_ALLOW_LARGE=1``."""
    import os

    if os.environ.get(LARGE_ENV) == "1":
        return
    if isinstance(params, dict):
        for key, value in params.items():
            check_magnitudes(value, where, f"{_path}.{key}" if _path else str(key))
        return
    name = _path.rsplit(".", 1)[-1]
    kind = next((k for k in MAGNITUDES if name == k or name.endswith(f"_{k}")), None)
    if kind is None:
        return
    count = len(params) if isinstance(params, (list, tuple)) and kind == "seeds" else params
    if isinstance(count, (int, float)) and not isinstance(count, bool) and count > MAGNITUDES[kind]:
        raise ValueError(
            f"{where}: {_path} = {count if kind != 'seeds' else f'{count} seeds'} is above {MAGNITUDES[kind]:,} "
            f"(a typo?); to run that on purpose, set {LARGE_ENV}=1"
        )


def list_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _close(word: str, choices: Iterable[str]) -> str:
    """' (did you mean X?)' for a likely typo, else ''."""
    match = difflib.get_close_matches(word, list(choices), n=1)
    return f" (did you mean {match[0]!r}?)" if match else ""


def profile_path(spec: str | Path) -> Path:
    """A profile name (``profiles/<name>.yaml``) or a path to any YAML file of the same schema."""
    path = Path(spec).expanduser()
    if path.suffix in (".yaml", ".yml") or len(path.parts) > 1:
        if not path.is_file():
            raise ValueError(f"profile file {path} does not exist")
        return path
    bundled = PROFILES_DIR / f"{spec}.yaml"
    if not bundled.is_file():
        raise ValueError(
            f"unknown profile {str(spec)!r}{_close(str(spec), list_profiles())}; valid profiles: {list_profiles()}, or a path to a .yaml file"
        )
    return bundled


def merge_sections(parent: dict[str, Any], child: dict[str, Any]) -> dict[str, Any]:
    """``child`` over ``parent``, key by key; a dict value (``recipe``, ``hparams``, a method's settings) is
    merged the same way, so a child names only what it changes. Any other value (a list, a number) replaces."""
    out = dict(parent)
    for key, value in child.items():
        out[key] = merge_sections(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_profile(spec: str | Path, _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read and check a profile: ``{description, extends, defaults: {...}, notebooks: {stem: {...}}}``.

    ``extends: NAME|PATH`` starts from another profile (a path relative to this file's folder): its
    ``defaults`` and each notebook section are merged under this one's (:func:`merge_sections`), so a
    profile of your own can be ``extends: default`` and the few parameters it changes.

    Returns that mapping plus ``name`` and ``path`` (for error messages and ``batch.json``). The reserved
    ``output_dir`` / ``figures_dir`` / ``run_id`` are refused here, since the batch would silently overwrite them.
    """
    path = profile_path(spec)
    if path.resolve() in _seen:
        chain = " -> ".join(str(p) for p in (*_seen, path.resolve()))
        raise ValueError(f"profile {path}: 'extends' makes a cycle ({chain})")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as err:
        raise ValueError(f"profile {path}: not valid YAML: {err}") from err
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ValueError(f"profile {path}: expected a mapping with keys {list(PROFILE_KEYS)}, got {type(data).__name__}")
    extra = sorted(set(data) - set(PROFILE_KEYS), key=str)
    if extra:
        raise ValueError(f"profile {path}: unknown top-level key(s) {extra}; expected only {list(PROFILE_KEYS)}")
    for key in ("defaults", "notebooks"):
        data[key] = {} if data.get(key) is None else data[key]
        if not isinstance(data[key], dict):
            raise ValueError(f"profile {path}: '{key}' must be a mapping, got {type(data[key]).__name__}")
    for stem, section in list(data["notebooks"].items()):
        if section is None:
            data["notebooks"][stem] = {}
        elif not isinstance(section, dict):
            raise ValueError(f"profile {path}: notebooks.{stem} must be a mapping of parameters, got {type(section).__name__}")
    parent_spec = data.pop("extends", None)
    if parent_spec is not None:
        if not isinstance(parent_spec, str) or not parent_spec:
            raise ValueError(f"profile {path}: 'extends' must name a profile or a .yaml path, got {parent_spec!r}")
        local = path.parent / parent_spec
        try:
            parent = load_profile(local if local.suffix in (".yaml", ".yml") else parent_spec, (*_seen, path.resolve()))
        except ValueError as err:
            raise ValueError(f"profile {path}: extends {parent_spec!r}: {err}") from None
        data["defaults"] = merge_sections(parent["defaults"], data["defaults"])
        stems = dict.fromkeys([*parent["notebooks"], *data["notebooks"]])
        data["notebooks"] = {s: merge_sections(parent["notebooks"].get(s, {}), data["notebooks"].get(s, {})) for s in stems}
        data.setdefault("description", parent.get("description"))
        data["extends"] = str(parent["path"])
    if SPLIT_KEY in data["defaults"]:
        raise ValueError(
            f"profile {path}: defaults.{SPLIT_KEY} is not allowed: a split names one notebook's list parameter, in its own section"
        )
    for stem, section in data["notebooks"].items():
        split = section.get(SPLIT_KEY)
        if SPLIT_KEY in section and not (isinstance(split, str) and split.isidentifier() and split not in RESERVED + SEED_KEYS):
            raise ValueError(
                f"profile {path}: notebooks.{stem}.{SPLIT_KEY} must name one list parameter of that notebook "
                f"(one task per element, e.g. forget_requests), got {split!r}"
            )
    sections = [("defaults", data["defaults"])] + [(f"notebooks.{s}", sec) for s, sec in data["notebooks"].items()]
    for where, section in sections:
        for key in RESERVED:
            if key in section:
                raise ValueError(
                    f"profile {path}: {where}.{key} is reserved (the batch sets {' and '.join(RESERVED)}; use --out / --figures)"
                )
    return {"name": path.stem, "path": path, **data}


def check_profile_notebooks(profile: dict[str, Any], stems: Sequence[str]) -> None:
    """Refuse a ``notebooks:`` section that names no notebook (a typo would otherwise be silently ignored)."""
    for stem in profile["notebooks"]:
        if stem not in stems:
            raise ValueError(
                f"profile {profile.get('path', '?')}: notebooks.{stem} is not a notebook{_close(str(stem), stems)}; notebooks: {list(stems)}"
            )


@dataclass(frozen=True)
class Override:
    """One ``--set``: ``stem`` None means every notebook whose parameters cell has ``key``."""

    stem: str | None
    key: str
    value: Any
    text: str


def parse_set(text: str) -> Override:
    """``STEM.key=value`` (one notebook), ``*.key=value`` or ``key=value`` (all); the value is YAML."""
    target, sep, raw = text.partition("=")
    if not sep:
        raise ValueError(f"--set {text!r}: expected STEM.key=value, *.key=value or key=value")
    stem, _, key = target.strip().rpartition(".")
    if not key.isidentifier():
        raise ValueError(f"--set {text!r}: {key!r} is not a parameter name")
    if key in RESERVED:
        raise ValueError(f"--set {text!r}: {key} is reserved (use --out / --figures)")
    if key == SPLIT_KEY:
        raise ValueError(f"--set {text!r}: {SPLIT_KEY} is a profile setting (how a notebook's tasks are cut), not a parameter")
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError as err:
        raise ValueError(f"--set {text!r}: the value is not valid YAML: {err}") from err
    return Override(None if stem in ("", "*") else stem, key, value, text)
