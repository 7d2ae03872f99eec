"""Small shared helpers: seeding, device choice, timing, atomic writes, progress bars."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from .determinism import deterministic_cuda

__all__ = [
    "BudgetSpent",
    "StepBudget",
    "Timer",
    "atomic_write",
    "atomic_write_json",
    "atomic_write_text",
    "cache_dir",
    "check_writable_dir",
    "load_plain_tensors",
    "progress",
    "resolve_device",
    "seed_everything",
    "source_hash",
    "torch_generator",
]


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch so the same seed gives the same numbers on the CPU."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def torch_generator(seed: int) -> torch.Generator:
    """A CPU generator, so shuffling does not depend on global RNG state."""
    g = torch.Generator()
    g.manual_seed(int(seed))
    return g


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """Map ``"auto"`` to CUDA when it is present, else the CPU; validate anything else.

    A GPU also gets deterministic kernels (:func:`~unlearn_lib.determinism.deterministic_cuda`): every
    run resolves its device here before it trains, so "same seed, same numbers" holds on a GPU as on the CPU.
    """
    if isinstance(device, torch.device):
        dev = device
    elif not isinstance(device, str):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    elif device == "auto":
        dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    elif device == "cpu" or device.startswith("cuda"):
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise ValueError(f"device={device!r} was asked for but CUDA is not available; use 'auto' or 'cpu'")
        dev = torch.device(device)
    else:
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dev.type == "cuda":
        deterministic_cuda(dev)
    return dev


class Timer:
    """Wall-clock timer used as a context manager; synchronises CUDA so GPU time is real.

    It also counts every optimizer step taken inside it (``steps``, through torch's global
    optimizer-step hook), so a method's cost is reported in seconds *and* in optimizer steps, whatever
    optimizers it builds.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.steps = 0
        self._start = 0.0
        self._hook: Any = None

    def _count(self, *args: object) -> None:
        self.steps += 1

    def __enter__(self) -> Timer:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.steps = 0
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self._hook = register_optimizer_step_post_hook(self._count)
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        self.seconds = time.perf_counter() - self._start
        if self._hook is not None:
            self._hook.remove()
            self._hook = None


class BudgetSpent(BaseException):
    """Raised by :class:`StepBudget` right after the step that spends the budget.

    A ``BaseException``, like ``KeyboardInterrupt``, so that no ``except Exception`` inside a method's
    loop can swallow it: the budget must stop every method at the same step.
    """


class StepBudget:
    """Caps the optimizer steps taken inside it at ``max_steps`` (torch's global optimizer-step hook).

    The ``max_steps``-th step completes (the weights are updated) and then :class:`BudgetSpent` stops the
    loop that took it, whatever loop and optimizers the method built. Why a hook and not a loop
    argument: half the strategies run their own loops, and a budget is only equal if one counter
    stops them all.
    """

    def __init__(self, max_steps: int) -> None:
        if isinstance(max_steps, bool) or not isinstance(max_steps, int) or max_steps < 1:
            raise ValueError(f"max_steps must be a positive int (optimizer steps), got {max_steps!r}")
        self.max_steps = max_steps
        self.steps = 0
        self._hook: Any = None

    @property
    def spent(self) -> bool:
        return self.steps >= self.max_steps

    def _count(self, *args: object) -> None:
        self.steps += 1
        if self.steps >= self.max_steps:
            raise BudgetSpent(f"{self.steps} optimizer steps")

    def __enter__(self) -> StepBudget:
        from torch.optim.optimizer import register_optimizer_step_post_hook

        self.steps = 0
        self._hook = register_optimizer_step_post_hook(self._count)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """The one atomic writer: ``write(tmp)`` fills a temporary sibling, then ``os.replace`` puts it in
    place, so readers (and a run killed midway) never see half a file. Text, JSON, figures, arrays and
    checkpoints all go through here."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix or ".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, public_mode())
    try:
        write(Path(tmp))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Text through :func:`atomic_write` (flushed to disk before it replaces the old file)."""

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    return atomic_write(path, write)


def source_hash(root: str | os.PathLike, paths: Iterable[str] | None = None) -> str:
    """SHA-256 (hex) over the ``.py`` files under ``root`` (or under its ``paths``: files or folders),
    path and bytes each: the version of that code, for keys that must change when it does."""
    root = Path(root)
    targets = [root / p for p in paths] if paths is not None else [root]
    files = sorted({f for t in targets for f in (t.rglob("*.py") if t.is_dir() else [t])})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def check_writable_dir(path: object, name: str) -> Path:
    """``path`` is a directory this process can write, or can be created as one; nothing is created here.

    Raises:
        ValueError: not a path, an existing file (or a file on the way), or a directory without write access.
    """
    if not isinstance(path, (str, os.PathLike)) or not str(path):
        raise ValueError(f"{name} must be a directory path, got {path!r}")
    p = Path(path).expanduser().absolute()
    if p.exists() and not p.is_dir():
        raise ValueError(f"{name}: {p} exists and is not a directory")
    existing = next(q for q in [p, *p.parents] if q.exists())
    if not existing.is_dir():
        raise ValueError(f"{name}: {p} cannot be created, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"{name}: {existing} is not writable" + ("" if existing == p else f" (so {p} cannot be created)"))
    return p


def load_plain_tensors(path: str | os.PathLike, what: str) -> Any:
    """``torch.load(path, weights_only=True)`` with an error a person can act on.

    A file that is not a plain-tensor checkpoint (garbage, truncated, or one that pickles code) is
    refused naming the file and what was expected; torch's own message suggests ``weights_only=False``,
    which would run the file's pickled code and is never the fix here.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's note on the pickle protocol of a file it then refuses
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # UnpicklingError, RuntimeError (zip), EOFError, ...
        text = str(err)
        tail = text.split("WeightsUnpickler error:", 1)[-1] if "WeightsUnpickler error:" in text else ""
        why = next((line.strip() for line in tail.splitlines() if line.strip()), type(err).__name__)
        raise ValueError(f"{path}: not a {what} (a torch checkpoint of plain tensors; read with weights_only=True): {why[:200]}") from None


def cache_dir() -> Path:
    """The one cache directory (simulated cohorts, trained GANs and evaluators): ``$UNLEARN_CACHE`` if
    set, else ``~/.cache/unlearn-study``."""
    return Path(os.environ.get("UNLEARN_CACHE") or Path.home() / ".cache" / "unlearn-study")


def public_mode() -> int:
    """0o666 less the umask: what a plain ``open(path, "w")`` would give (mkstemp gives 0o600)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_json(path: str | os.PathLike, obj: Any) -> Path:
    """JSON version of :func:`atomic_write_text` (sorted keys, so diffs stay readable)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def progress(iterable: Iterable, desc: str | None = None, total: int | None = None, leave: bool = False) -> Iterator:
    """A ``tqdm.auto`` bar that can be silenced with ``UNLEARN_PROGRESS=0`` (tests, logs)."""
    disable = os.environ.get("UNLEARN_PROGRESS", "1") == "0"
    return tqdm(iterable, desc=desc, total=total, leave=leave, disable=disable)
