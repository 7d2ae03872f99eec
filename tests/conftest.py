"""Shared fixtures: tiny in-memory datasets and models, so unit tests take seconds."""

from __future__ import annotations

import os
import shutil
import tempfile

import numpy as np
import pytest
import torch

from unlearn_lib.data import ArrayDataset, make_forget_split
from unlearn_lib.determinism import deterministic_cuda
from unlearn_lib.tasks import ClassificationTask

os.environ.setdefault("UNLEARN_PROGRESS", "0")
_CACHE_KEY = pytest.StashKey[tuple[str, dict[str, str | None]]]()


#: The slowest test files, longest first (the seconds each took in a fresh clone, summed from ``--durations``):
#: pytest-xdist hands them out before the rest, so that no long file starts last and runs alone at the end.
#: ``make test`` passes ``--no-loadscope-reorder``: xdist's default orders files by their number of tests,
#: which started 01's notebook (472 s in 12 cells) last. A renamed file here is an error, not a slow run.
SLOW_FIRST = (  # seconds of each file in a fresh clone's `make test` on a 2-core AMD EPYC (2026-12-06)
    "tests/test_engine.py",  # 176 s
    "tests/test_segmentation_study.py",  # 78 s
    "tests/test_engine_notebook03.py",  # 64 s (61 s alone)
    "notebooks/01_quickstart.ipynb",  # 57 s beside the engine's processes (1,000 of its 4,000 test digits evaluated)
    "notebooks/05_gan_unlearning.ipynb",  # 60 s (three seeds; two since)
    "tests/test_publication.py",  # 48 s
    "tests/test_gan_canary_memorisation.py",  # 43 s (six toy GANs)
    "notebooks/04_medical_fairness.ipynb",  # 36 s
    "notebooks/03_segmentation_unlearning.ipynb",  # 30 s
    "tests/test_explore.py",  # 20 s
    # The next tier, so that the last files handed out are the sub-second ones: `make test` collects tests/
    # before notebooks/, so without this 00_explore and 02 (26 s) were among the last files to start.
    "tests/test_batch.py",  # 28 s
    "notebooks/02_scrub_and_baselines.ipynb",  # 26 s
    "tests/test_medical_study.py",  # 16 s
    "tests/test_strategies_core.py",  # 15 s
    "tests/test_cohort.py",  # 14 s
    "tests/test_bad_inputs.py",  # 10 s
    "tests/test_patches_depth.py",  # 10 s
    "tests/test_gan_cascade.py",  # 8 s
    "tests/test_medical_stats.py",  # 8 s
    "notebooks/00_explore.ipynb",  # 7 s
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run the slowest files first (stable: every other file, and the order inside a file, is unchanged)."""
    root = config.rootpath
    missing = [f for f in SLOW_FIRST if not (root / f).is_file()]
    if missing:
        raise pytest.UsageError(f"tests/conftest.py SLOW_FIRST names files that do not exist: {missing}")
    rank = {f: i for i, f in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))


#: ``UNLEARN_TEST_DEVICE=cuda`` (``make test-gpu``) reruns the device-aware behaviour tests on a GPU, with
#: the same margins: the CPU is the default, and CI has no GPU.
TEST_DEVICE_ENV = "UNLEARN_TEST_DEVICE"


@pytest.fixture(scope="session")
def device() -> torch.device:
    """The device the behaviour tests train and unlearn on (``$UNLEARN_TEST_DEVICE``, default ``cpu``)."""
    name = os.environ.get(TEST_DEVICE_ENV, "cpu").strip() or "cpu"
    if name != "cpu" and not name.startswith("cuda"):
        raise pytest.UsageError(f"{TEST_DEVICE_ENV}={name!r}: expected 'cpu', 'cuda' or 'cuda:N'")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise pytest.UsageError(f"{TEST_DEVICE_ENV}={name!r} but torch sees no CUDA device here")
    deterministic_cuda(name)  # the tests' "same seed, same weights" must hold on a GPU too
    return torch.device(name)


#: The user's artifact cache as it was before the tests pointed ``UNLEARN_CACHE`` elsewhere, for tests
#: that copy an expensive input from it when it is there (they never write to it).
USER_CACHE_ENV = "UNLEARN_TEST_USER_CACHE"
_CACHE_VARS = ("UNLEARN_CACHE", "UNLEARN_NO_CACHE")


def pytest_configure(config: pytest.Config) -> None:
    """Trained models go to a temporary artifact cache, never the user's ``~/.cache``.

    Set here, before any test or notebook runs, and not in a fixture: nbval's notebook cells take no
    fixtures, and a kernel inherits the environment of the moment it starts. With a session fixture,
    a notebook collected first (``SLOW_FIRST`` starts with one) trained into the user's cache, and its
    cells ran faster or slower depending on what that cache held. Each process (every xdist worker)
    gets its own directory, removed at the end."""
    from unlearn_lib.utils import cache_dir

    os.environ.setdefault(USER_CACHE_ENV, str(cache_dir()))
    config.stash[_CACHE_KEY] = (tempfile.mkdtemp(prefix="unlearn-test-cache-"), {k: os.environ.get(k) for k in _CACHE_VARS})
    os.environ["UNLEARN_CACHE"] = config.stash[_CACHE_KEY][0]
    os.environ.pop("UNLEARN_NO_CACHE", None)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _CACHE_KEY not in config.stash:
        return
    tmp, before = config.stash[_CACHE_KEY]
    for k, v in before.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(autouse=True)
def _own_cache(tmp_path_factory, monkeypatch):
    """Each test starts from an empty artifact cache of its own, so no test reads another's models."""
    monkeypatch.setenv("UNLEARN_CACHE", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.delenv("UNLEARN_NO_CACHE", raising=False)


def quadrant_images() -> ArrayDataset:
    """120 random 1x28x28 'images' over 4 classes, learnable: the class sets a bright quadrant."""
    g = torch.Generator().manual_seed(0)
    y = torch.arange(120) % 4
    x = torch.rand(120, 1, 28, 28, generator=g) * 0.3
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, :, r * 14 : (r + 1) * 14, q * 14 : (q + 1) * 14] += 0.7
    return ArrayDataset(x, y, meta={"subject": np.arange(120) // 10, "sex": np.where(np.arange(120) % 3 == 0, "F", "M")}, num_classes=4)


def small_quadrant_images(n: int = 200, seed: int = 0) -> ArrayDataset:
    """``n`` 1x8x8 images over 4 classes (the class lights one quadrant over noise): a typical example is
    easy, yet small enough that the small CNN memorises a flipped label within 40 epochs, where the 28x28
    images' strong cue overrides it."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 4
    x = torch.rand(n, 1, 8, 8, generator=g) * 0.5
    for c in range(4):
        r, q = divmod(c, 2)
        x[y == c, :, r * 4 : (r + 1) * 4, q * 4 : (q + 1) * 4] += 0.5
    return ArrayDataset(x, y, num_classes=4)


@pytest.fixture(scope="session")
def small_quadrants():
    """:func:`small_quadrant_images`, for tests that need several sizes or seeds of it."""
    return small_quadrant_images


@pytest.fixture
def tiny_images() -> ArrayDataset:
    """A fresh copy per test of :func:`quadrant_images`."""
    return quadrant_images()


@pytest.fixture(scope="session")
def shared_quadrant_images() -> ArrayDataset:
    """The same images for module-scoped fixtures that train once (do not modify in place)."""
    return quadrant_images()


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for modules of tiny networks: on a busy 2-core CPU, OpenMP spin-waiting
    made them 20-50x slower. Opt in with ``pytestmark = pytest.mark.usefixtures("one_thread")``."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_task() -> ClassificationTask:
    return ClassificationTask(4)


@pytest.fixture
def tiny_split(tiny_images):
    return make_forget_split(tiny_images.labels, "class", forget_class=1, seed=0, val_fraction=0.1)
