"""The artifact cache: every trained model the study reuses, stored once and keyed by what made it.

Originals, retrained references, GAN originals, evaluator classifiers and segmentation baselines
take minutes to hours to train and are fully determined by their training data, model, recipe, seed,
device type and the code that trains them. :class:`ArtifactCache` keeps each one as
``<root>/<kind>/<key>.pt`` (a ``state_dict``) beside ``<key>.json``, its provenance: the key's parts,
the *measured* training time, the machine, the torch version, the date and the SHA-256 of the
``.pt``. The stored seconds are what time-based metrics (seconds, speed-up) use when a model is
reused, so a warm cache reports the cost of the training that produced the model, not of reading it.

Reading is defensive: the provenance must name exactly the requested key parts, the checksum must
match, and the checkpoint is read with ``torch.load(weights_only=True)`` (plain tensors only, so a
crafted pickle cannot run code). Anything else - a truncated file, a foreign provenance, a pickle
that asks for a global - is reported with a :class:`CacheWarning` naming the file, and the model is
trained again and written atomically over it.

``$UNLEARN_CACHE`` moves the cache (default ``~/.cache/unlearn-study``); ``UNLEARN_NO_CACHE=1`` turns
it off (every model is trained, nothing is read or written); ``make clean-cache`` empties it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import fcntl
import functools
import hashlib
import inspect
import json
import os
import platform
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .utils import Timer, atomic_write, atomic_write_text, cache_dir, source_hash

__all__ = [
    "CACHE_VERSION",
    "ArtifactCache",
    "ArtifactInfo",
    "CacheWarning",
    "cache_enabled",
    "cache_name",
    "code_version",
    "fingerprint",
    "machine_description",
    "recipe_parts",
    "source_digest",
]

#: Bump when the layout or the meaning of a key changes, so older entries are never read.
CACHE_VERSION = 2  # 2: models are no longer trained under a Dask nanny's MALLOC_TRIM_THRESHOLD_ (recorded seconds change)
#: The package files whose source is part of every key (relative to ``unlearn_lib/``): the model
#: definitions and the shared training loop. Editing one invalidates every entry.
CODE_PATHS = ("models", "loops.py", "training.py")
_PACKAGE = Path(__file__).resolve().parent


class CacheWarning(UserWarning):
    """A cache entry could not be used (damaged, foreign or unsafe) and the model is trained again."""


def cache_enabled() -> bool:
    """Whether the environment allows the cache: anything but ``UNLEARN_NO_CACHE=1``."""
    return os.environ.get("UNLEARN_NO_CACHE", "").strip() != "1"


@functools.cache
def code_version() -> str:
    """SHA-256 (16 hex digits) of the source of :data:`CODE_PATHS`: the model code's version."""
    return source_hash(_PACKAGE, CODE_PATHS)[:16]


def source_digest(*objs: Any) -> str:
    """SHA-256 (16 hex digits) of the source of classes or functions whose code shapes a model
    (a recipe's ``fit``, the GAN loop); empty source (e.g. defined in a notebook) hashes as their names."""
    h = hashlib.sha256()
    for obj in objs:
        try:
            h.update(inspect.getsource(obj).encode())
        except (OSError, TypeError):
            h.update(f"{getattr(obj, '__module__', '')}.{getattr(obj, '__qualname__', repr(obj))}".encode())
    return h.hexdigest()[:16]


def fingerprint(dataset: Any) -> str:
    """SHA-256 of a dataset's inputs and targets, shapes and dtypes included (its metadata do not
    train anything and are left out). Works for any object with tensor ``x`` and ``y``."""
    h = hashlib.sha256()
    for name in ("x", "y"):
        t = getattr(dataset, name, None)
        if not isinstance(t, torch.Tensor):
            raise ValueError(f"fingerprint needs a dataset with tensor .x and .y (an ArrayDataset), got {type(dataset).__name__}")
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{tuple(t.shape)}:{t.dtype}".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes())
    return h.hexdigest()


#: Recipe types keyed by a name other than their import path (see :func:`cache_name`).
_CACHE_NAMES: dict[type, str] = {}


def cache_name(cls: type, name: str) -> None:
    """Key recipe type ``cls`` as ``name`` instead of its import path.

    Why: a key names a recipe's type by where its class lives, so moving a study's code to another module
    would orphan every model trained with it (hours of CPU for a user with a full cache). The moved class
    registers the name it was first cached under; its code digest still follows its source, so editing
    it still misses. Only ``cls`` itself: a subclass is another recipe and keeps its own name.
    """
    if not isinstance(cls, type) or not isinstance(name, str) or not name:
        raise ValueError(f"cache_name needs a class and a non-empty name, got {cls!r}, {name!r}")
    _CACHE_NAMES[cls] = name


def recipe_parts(recipe: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    """A recipe as key parts: its type (its :func:`cache_name`, else its import path), its fields (less
    ``drop``) and the digest of its class source (its ``fit`` trains the model, so editing it must miss)."""
    fields = recipe.to_dict() if hasattr(recipe, "to_dict") else dict(recipe)
    cls = type(recipe)
    return {
        "type": _CACHE_NAMES.get(cls, f"{cls.__module__}.{cls.__qualname__}"),
        "fields": {k: v for k, v in fields.items() if k not in drop},
        "code": source_digest(cls),
    }


def _json_default(obj: Any) -> Any:
    if isinstance(obj, (np.integer, np.floating, np.bool_)):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, torch.device, torch.dtype)):
        return str(obj)
    raise TypeError(f"cache key parts must be JSON data (numbers, strings, lists, dicts), got {type(obj).__name__}: {obj!r}")


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default, allow_nan=True)


def _normalise(parts: Mapping[str, Any]) -> dict[str, Any]:
    """Key parts as they read back from the provenance file (tuples become lists, numpy numbers plain)."""
    return json.loads(_canonical(dict(parts)))


def machine_description(device: torch.device | str | None = None) -> str:
    """Host name and the processor that trained: the GPU's name on CUDA, else the CPU model."""
    host = platform.node() or "unknown host"
    dev = torch.device(device) if device is not None else None
    if dev is not None and dev.type == "cuda" and torch.cuda.is_available():
        return f"{host} ({torch.cuda.get_device_name(dev)})"
    cpu = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    return f"{host} ({cpu or platform.processor() or platform.machine() or 'CPU'}, {os.cpu_count()} CPUs)"


def _fmt_seconds(s: float) -> str:
    return f"{s:.1f} s" if s < 10 else f"{s:.0f} s"


@dataclass(frozen=True)
class ArtifactInfo:
    """Where a model came from: read from the cache (``cached``) or trained now, and the measured
    training time (``seconds``) either way, with the machine, torch version and date of that training."""

    kind: str
    key: str
    cached: bool
    seconds: float
    machine: str
    torch: str
    date: str
    path: Path | None
    enabled: bool = True
    #: Optimizer steps the training took (None for entries written before steps were counted).
    steps: int | None = None

    def describe(self, what: str | None = None) -> str:
        """One line for a notebook: ``original loaded from cache, trained in 312 s on host (torch 2.13.0,
        2026-12-01); its seconds are that training's`` or ``original trained in 312 s (now cached)``."""
        what = what or self.kind
        took = _fmt_seconds(self.seconds)
        if self.cached:
            when = f"torch {self.torch}, {self.date[:10]}"
            return f"{what} loaded from cache, trained in {took} on {self.machine} ({when}); its seconds are that training's"
        return f"{what} trained in {took} ({'now cached' if self.enabled else 'cache off'})"


class ArtifactCache:
    """Trained models on disk, keyed by everything that determines them (see the module docstring).

    Args:
        root: the cache directory (default :func:`~unlearn_lib.utils.cache_dir`, i.e. ``$UNLEARN_CACHE``).
        enabled: ``False`` trains every time and neither reads nor writes; ``None`` follows
            ``UNLEARN_NO_CACHE`` (see :func:`cache_enabled`).
    """

    def __init__(self, root: str | os.PathLike | None = None, enabled: bool | None = None) -> None:
        self.root = Path(root) if root is not None else cache_dir()
        self.enabled = cache_enabled() if enabled is None else bool(enabled)
        if self.enabled:
            self._check_root(root is None)

    def _check_root(self, from_env: bool) -> None:
        """The cache dir can be written, checked before anything trains (a file or a read-only mount used to
        fail only when the first model was stored, after its training)."""
        name = "UNLEARN_CACHE" if from_env and os.environ.get("UNLEARN_CACHE") else "the cache dir"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            probe = self.root / f".write-check-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as err:
            raise ValueError(
                f"{name}: {self.root} is not a writable directory ({err.strerror or err}); point UNLEARN_CACHE at one, "
                "or set UNLEARN_NO_CACHE=1 to train without a cache"
            ) from None

    def __repr__(self) -> str:
        return f"ArtifactCache(root={str(self.root)!r}, enabled={self.enabled})"

    # -- keys ------------------------------------------------------------------------------------

    fingerprint = staticmethod(fingerprint)

    def key(self, kind: str, **parts: Any) -> str:
        """SHA-256 of the canonical JSON of ``kind``, ``parts``, :data:`CACHE_VERSION` and :func:`code_version`."""
        if not kind or not kind.replace("_", "").replace("-", "").isalnum():
            raise ValueError(f"kind must be a short name of letters, digits, '-' or '_' (it names a folder), got {kind!r}")
        blob = _canonical({"kind": kind, "cache_version": CACHE_VERSION, "code": code_version(), "parts": parts})
        return hashlib.sha256(blob.encode()).hexdigest()

    def paths(self, kind: str, key: str) -> tuple[Path, Path]:
        """The checkpoint and its provenance file."""
        folder = self.root / kind
        return folder / f"{key}.pt", folder / f"{key}.json"

    # -- the one entry point ---------------------------------------------------------------------

    def load_or_train(
        self,
        kind: str,
        key_parts: Mapping[str, Any],
        build: Callable[[], nn.Module],
        train: Callable[[nn.Module], float],
        *,
        device: torch.device | str | None = None,
    ) -> tuple[nn.Module, ArtifactInfo]:
        """The model of ``key_parts``: read from the cache if a sound entry exists, else built and trained.

        Args:
            build: a fresh, untrained model (called once when training; once when loading).
            train: trains the model it is given in place and returns the *measured* seconds.
            device: where a loaded model is moved (a trained one stays where ``train`` put it).

        Returns:
            The model (a loaded one in eval mode) and its :class:`ArtifactInfo`.
        """
        key = self.key(kind, **key_parts)
        parts = _normalise(key_parts)
        pt, meta = self.paths(kind, key)
        if not self.enabled:
            return self._train(kind, key, parts, pt, meta, build, train, device)
        with self._training_lock(kind, key):  # two tasks that need one model: one trains it, the other loads it
            loaded = self._load(kind, key, parts, pt, meta, build)
            if loaded is not None:
                model, info = loaded
                if device is not None:
                    model.to(device)
                return model.eval(), info
            return self._train(kind, key, parts, pt, meta, build, train, device)

    @contextlib.contextmanager
    def _training_lock(self, kind: str, key: str) -> Iterator[None]:
        """Hold ``<root>/<kind>/.<key>.lock`` (``flock``) while looking up, training and storing one entry.

        Why: the batch runs tasks in parallel (several forget requests of one study, say) that all start
        from the same original; without the lock each would train it. The second waits, then loads."""
        folder = self.root / kind
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fh = open(folder / f".{key}.lock", "a")  # closed by the with below (which releases the lock)
        except OSError:  # a read-only cache: nothing will be stored, so there is nothing to wait for
            yield
            return
        with fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                print(f"[cache] {kind} {key[:12]} is being trained by another process; waiting to load it", file=sys.stderr, flush=True)
                fcntl.flock(fh, fcntl.LOCK_EX)
            yield

    def _train(
        self,
        kind: str,
        key: str,
        parts: dict[str, Any],
        pt: Path,
        meta: Path,
        build: Callable[[], nn.Module],
        train: Callable[[nn.Module], float],
        device: torch.device | str | None,
    ) -> tuple[nn.Module, ArtifactInfo]:
        model = build()
        with Timer() as counter:
            seconds = float(train(model))
        info = ArtifactInfo(
            steps=counter.steps,
            kind=kind,
            key=key,
            cached=False,
            seconds=seconds,
            machine=machine_description(device),
            torch=torch.__version__,
            date=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            path=pt if self.enabled else None,
            enabled=self.enabled,
        )
        if self.enabled:
            self._store(model, info, parts, pt, meta)
        return model, info

    # -- reading and writing ---------------------------------------------------------------------

    def _refuse(self, path: Path, reason: str) -> None:
        warnings.warn(f"cache entry {path} not used ({reason}); training the model again", CacheWarning, stacklevel=4)

    def _load(
        self, kind: str, key: str, parts: dict[str, Any], pt: Path, meta: Path, build: Callable[[], nn.Module]
    ) -> tuple[nn.Module, ArtifactInfo] | None:
        if not pt.exists() and not meta.exists():
            return None  # a plain miss
        if not pt.is_file() or not meta.is_file():
            self._refuse(pt if not pt.is_file() else meta, f"{'checkpoint' if not pt.is_file() else 'provenance'} file missing")
            return None
        try:
            prov = json.loads(meta.read_text(encoding="utf-8"))
            if not isinstance(prov, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as err:
            self._refuse(meta, f"unreadable provenance: {err}")
            return None
        expected = {"kind": kind, "key": key, "cache_version": CACHE_VERSION, "parts": parts}
        wrong = sorted(k for k, v in expected.items() if prov.get(k) != v)
        if wrong:
            self._refuse(meta, f"provenance does not match the requested model in {wrong}")
            return None
        try:
            digest = hashlib.sha256(pt.read_bytes()).hexdigest()
        except OSError as err:
            self._refuse(pt, f"unreadable checkpoint: {err}")
            return None
        if digest != prov.get("sha256"):
            self._refuse(pt, "checksum differs from its provenance: truncated or replaced")
            return None
        try:
            state = torch.load(pt, map_location="cpu", weights_only=True)
        except Exception as err:  # an unpickling error of any kind means "do not use"
            self._refuse(pt, f"not a plain-tensor checkpoint (read with weights_only=True): {type(err).__name__}: {err}")
            return None
        if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
            self._refuse(pt, "expected a state_dict of tensors")
            return None
        model = build()
        try:
            model.load_state_dict(state)
        except (RuntimeError, ValueError, KeyError) as err:
            self._refuse(pt, f"state_dict does not fit the model: {err}")
            return None
        try:
            info = ArtifactInfo(
                kind=kind,
                key=key,
                cached=True,
                seconds=float(prov["seconds"]),
                machine=str(prov.get("machine", "unknown machine")),
                torch=str(prov.get("torch", "unknown")),
                date=str(prov.get("date", "")),
                path=pt,
                steps=int(prov["steps"]) if prov.get("steps") is not None else None,
            )
        except (KeyError, TypeError, ValueError) as err:
            self._refuse(meta, f"provenance lacks the training time: {err}")
            return None
        return model, info

    def _store(self, model: nn.Module, info: ArtifactInfo, parts: dict[str, Any], pt: Path, meta: Path) -> None:
        """Checkpoint first, then its provenance, each atomically: a reader sees a matching pair or a miss."""
        state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
        digest = ""

        def write(tmp: Path) -> None:
            nonlocal digest
            torch.save(state, tmp)
            digest = hashlib.sha256(tmp.read_bytes()).hexdigest()

        atomic_write(pt, write)
        prov = {
            "kind": info.kind,
            "key": info.key,
            "cache_version": CACHE_VERSION,
            "code_version": code_version(),
            "parts": parts,
            "seconds": info.seconds,
            "steps": info.steps,
            "machine": info.machine,
            "torch": info.torch,
            "date": info.date,
            "sha256": digest,
            "file": pt.name,
        }
        atomic_write_text(meta, json.dumps(prov, indent=2, sort_keys=True) + "\n")
