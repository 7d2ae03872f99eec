"""A catalogue of bad inputs: each is refused before any work, with an error naming what is wrong.

Every case asserts the error (matched on the parameter, option or file it names) *and* that nothing
was written: no results or figures directory for a notebook or a batch, no new file next to bad data.
The groups are: notebook parameters through ``start`` (the header every notebook runs first), checks
that need the loaded data (``run.load_dataset``, still before training), the batch (profile, ``--set``,
paths, through ``run_batch`` and the CLI), and the loaders on small files in their true formats.

Kill-and-rerun and two-batches-on-one-out-dir are in ``tests/test_engine.py``
(``test_a_killed_batch_resumes_redoing_only_unfinished_tasks``, ``test_a_second_batch_on_the_same_out_dir_is_refused``).
"""

from __future__ import annotations

import ast
import functools
import gzip
import math
import pickle
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from unlearn_lib.batch import main, run_batch
from unlearn_lib.batch.plan import REPO_ROOT, inspect_parameters
from unlearn_lib.data import make_forget_split
from unlearn_lib.data.cifar import load_cifar10
from unlearn_lib.data.medical import load_chexpert, load_medmnist
from unlearn_lib.data.mnist import load_mnist_idx, write_idx
from unlearn_lib.data.mrbrains import load_mrbrains18
from unlearn_lib.notebook import start
from unlearn_lib.utils import load_plain_tensors

NAN, INF = math.nan, math.inf
Q, B, M, G = "01_quickstart", "02_scrub_and_baselines", "04_medical_fairness", "05_gan_unlearning"


@functools.cache
def defaults(stem: str) -> dict[str, Any]:
    """The notebook's own parameters cell, as values."""
    cell = inspect_parameters(REPO_ROOT / "notebooks" / f"{stem}.ipynb")
    return {k: ast.literal_eval(p["default"]) for k, p in cell.items()}


def start_with(stem: str, tmp_path: Path, **changes: Any) -> Any:
    """``start(...)`` as the notebook's second cell calls it, with its defaults and ``changes``."""
    values = {**defaults(stem), **changes}
    header = {k: values.pop(k) for k in ("seed", "device", "threads")}
    for k in ("output_dir", "figures_dir", "run_id"):
        values.pop(k)
    if stem == B:
        values.pop("seed", None)
    return start(stem, **header, output_dir=tmp_path / "out", figures_dir=tmp_path / "fig", parameters=values)


def nothing_written(tmp_path: Path) -> bool:
    return not (tmp_path / "out").exists() and not (tmp_path / "fig").exists()


# -- 1. notebook parameters, refused by start() ------------------------------------------------------

FT = defaults(Q)["hparams"]
PARAMETER_CASES: list[tuple[str, dict[str, Any], str]] = [
    # exact types and ranges of the header
    (Q, {"threads": "1"}, "threads"),
    (Q, {"threads": 1.0}, "threads"),
    (Q, {"threads": True}, "threads"),
    (Q, {"threads": -1}, "threads"),
    (Q, {"seed": -1}, "seed"),
    (Q, {"test_size": 0}, "test_size"),
    (Q, {"test_size": 99.5}, "test_size"),
    (B, {"test_size": -3}, "test_size"),
    (Q, {"seed": True}, "seed"),
    (Q, {"seed": 0.5}, "seed"),
    (Q, {"device": "gpu"}, "device"),
    (Q, {"device": 0}, "device"),
    # the study's own parameters
    (Q, {"forget_class": 3.7}, "forget_class"),
    (Q, {"forget_class": True}, "forget_class"),
    (Q, {"forget_class": -1}, "forget_class"),
    (Q, {"forget_class": "3"}, "forget_class"),
    (Q, {"selective_n": 0}, "selective_n"),
    (Q, {"selective_n": 2.0}, "selective_n"),
    (Q, {"forget_clas": 3}, "forget_clas.*forget_class"),
    # methods and hyper-parameters
    (Q, {"methods": []}, "methods"),
    (Q, {"methods": "scrub"}, "methods"),
    (Q, {"methods": ["scrubb"], "hparams": {}}, "scrubb.*'scrub'"),
    (Q, {"methods": ["scrubb"]}, "scrubb.*'scrub'"),
    (Q, {"methods": ["scrub", "scrub"], "hparams": {}}, "more than once"),
    (Q, {"methods": ["noisy_label"], "hparams": {}}, "noisy_label"),
    (Q, {"methods": ["gan_cascaded"], "hparams": {}}, "gan_cascaded"),
    (Q, {"hparams": {**FT, "scrubb": {}}}, "scrubb.*'scrub'"),
    (Q, {"hparams": {**FT, "salun": {"epochs": 1}}}, "salun"),
    (Q, {"hparams": {"finetune": {"lr": NAN}}}, "finetune.*lr.*finite"),
    (Q, {"hparams": {"finetune": {"lr": INF}}}, "finetune.*lr.*finite"),
    (Q, {"hparams": {"finetune": {"momentum": NAN}}}, "momentum.*finite"),
    (Q, {"hparams": {"finetune": {"momentum": INF}}}, "momentum.*finite"),
    (Q, {"hparams": {"finetune": {"momentum": 1.5}}}, "momentum"),
    (Q, {"hparams": {"finetune": {"lr": -0.1}}}, "lr"),
    (Q, {"hparams": {"finetune": {"lr": 0}}}, "lr"),
    (Q, {"hparams": {"finetune": {"batch_size": 0}}}, "batch_size"),
    (Q, {"hparams": {"finetune": {"epochz": 1}}}, "epochz.*epochs"),
    (Q, {"hparams": {"finetune": {"epochs": 1.5}}}, "epochs"),
    (Q, {"hparams": {"finetune": {"optimizer": "rmsprop"}}}, "optimizer"),
    (Q, {"hparams": {"finetune": {"weight_decay": -1.0}}}, "weight_decay"),
    (Q, {"hparams": {"scrub": {"preset": "medium"}}}, "preset"),
    (Q, {"hparams": {"finetune": 5}}, "hparams"),
    (Q, {"hparams": ["finetune"]}, "hparams"),
    # the original's recipe, the data, the model
    (Q, {"recipe": {"epochs": 0}}, "epochs"),
    (Q, {"recipe": {"lr": NAN}}, "lr"),
    (Q, {"recipe": {"momentum": INF}}, "momentum"),
    (Q, {"recipe": {"epoch": 2}}, "epoch.*epochs"),
    (Q, {"recipe": {"schedule": "step"}}, "schedule"),
    (Q, {"dataset": "mnist-embeded"}, "mnist-embedded"),
    (Q, {"dataset": "mni152-cohort", "dataset_kwargs": {}}, "segmentation"),
    (Q, {"dataset": "cifar10"}, "root"),
    (Q, {"dataset": "cifar10", "dataset_kwargs": {"root": "/nonexistent/cifar"}}, "root.*does not exist"),
    (Q, {"dataset_kwargs": {"n_tset": 100}}, "n_tset.*n_test"),
    (Q, {"model": "smal_cnn"}, "smal_cnn.*small_cnn"),
    # 02: seeds, scenarios, fractions, the confusion and forget-quality analyses
    (B, {"seeds": []}, "seeds"),
    (B, {"seeds": [0, 0]}, "seeds"),
    (B, {"seeds": [0.5]}, "seeds"),
    (B, {"random_fraction": 0}, "random_fraction"),
    (B, {"random_fraction": 1.0}, "random_fraction"),
    (B, {"random_fraction": True}, "random_fraction"),
    (B, {"train_size": 0}, "train_size"),
    (B, {"methods": {}}, "methods"),
    (B, {"methods": {"clas": ["retrain"]}}, "clas.*'class'"),
    (B, {"methods": {"class": []}}, "methods.class"),
    (B, {"confusion_pair": [3, 3]}, "confusion_pair"),
    (B, {"confusion_pair": [3]}, "confusion_pair"),
    (B, {"confusion_methods": []}, "confusion_methods"),
    (B, {"fq_k": 1}, "fq_k"),
    (B, {"fq_seeds": []}, "fq_seeds"),
    (B, {"fq_seeds": [0, 0]}, "fq_seeds repeats"),
    (B, {"fq_seeds": [7]}, r"fq_seeds must be seeds of the run"),
    (B, {"fq_scenarios": []}, "fq_scenarios"),
    (B, {"fq_scenarios": ["high-memorisation"]}, r"fq_scenarios must be scenarios of methods"),
    (B, {"tuning_factors": []}, "tuning_factors"),
    (B, {"tuning_factors": [1.0, 1.0]}, "tuning_factors"),
    (B, {"tuning_factors": [0.0, 1.0]}, "tuning_factors"),
    (B, {"min_signal_accuracy": 1.5}, "min_signal_accuracy"),
    (B, {"min_signal_mia": -0.1}, "min_signal_mia"),
    (B, {"hparams": {**defaults(B)["hparams"], "scrub": {"lr": NAN}}}, "scrub.*lr"),
    # 04: the medical study's analyses
    (M, {"tuning_methods": ["scrubb"]}, "tuning_methods.*scrubb"),
    (M, {"forget_fractions": []}, "forget_fractions"),
    (M, {"forget_fractions": [0.0, 0.2]}, "forget_fractions"),
    (M, {"difficulty_quantile": 1.5}, "difficulty_quantile"),
    (M, {"tuning_epochs": [0]}, "tuning_epochs"),
    (M, {"use_tuned": "yes"}, "use_tuned"),
    (M, {"sex_seeds": "0"}, "sex_seeds"),
    (M, {"seeds": []}, "seeds"),
    (M, {"equivalence_margin": 0.0}, "equivalence_margin"),
    (M, {"equivalence_margin": -0.02}, "equivalence_margin"),
    (M, {"equivalence_margin": NAN}, "equivalence_margin"),
    (M, {"equivalence_margin": "0.02"}, "equivalence_margin"),
    (M, {"early_stop_patience": 0}, "early_stop_patience"),
    (M, {"recipe": {"epochs": 4, "lr": 0.01, "schedule": "cosine"}}, "schedule"),
    (M, {"tune_per_size": "yes"}, "tune_per_size"),
    (M, {"budget_request": "hard"}, "budget_request"),
    (M, {"budget_request": "size:0.7"}, "budget_request.*forget_fractions"),
    (M, {"budget_request": "mislabelled:0.3"}, "budget_request.*mislabel_fraction"),
    (M, {"mislabel_fraction": 0.7}, "mislabel_fraction"),
    (M, {"budget_fractions": [0.0, 0.5]}, "budget_fractions"),
    (M, {"budget_fractions": [0.5, 0.5]}, "budget_fractions"),
    (M, {"budget_lr_factors": []}, "budget_lr_factors"),
    (M, {"budget_lr_factors": [1.0, 0.0]}, "budget_lr_factors"),
    (M, {"budget_lr_factors": [3.0, 3.0]}, "budget_lr_factors"),
    # 05: the GAN study
    (G, {"n_items": 0}, "n_items"),
    (G, {"train_limit": 0}, "train_limit"),
    (G, {"classifier_width": 0.0}, "classifier_width"),
    (G, {"evaluator_epochs": 0}, "evaluator_epochs"),
    (G, {"request_sizes": [0]}, "request_sizes"),
    (G, {"recipe": {**defaults(G)["recipe"], "iterations": 0}}, "iterations"),
    (G, {"recipe": {**defaults(G)["recipe"], "lr_g": NAN}}, "lr_g"),
    (G, {"recipe": {**defaults(G)["recipe"], "seed": 1}}, "seed"),
    (G, {"methods": ["gan_retrain", "gan_finetune"]}, "gan_cascaded"),
    (G, {"methods": ["gan_cascaded", "scrub"]}, "scrub"),
    (G, {"cascade": {"rounds": 0}}, "rounds"),
    (G, {"cascade": {"lr_g": INF}}, "lr_g"),
    (G, {"hparams": {"gan_cascade": {}}}, "gan_cascade.*gan_cascaded"),
    (G, {"seeds": []}, "seeds"),
    (G, {"seeds": [0, 0]}, "seeds"),
    (G, {"parts": ["items", "pixels"]}, "parts"),
    (G, {"parts": ["items_32"]}, "parts"),
    (G, {"forget_classes": [3]}, "forget_classes"),
    (G, {"forget_classes": [3, -1]}, "forget_classes"),
    (G, {"n_items": 17}, "n_items"),
    (G, {"cascade": {"chunk_size": 0}}, "chunk_size"),
    (G, {"recipe": {**defaults(G)["recipe"], "check_every": -1}}, "check_every"),
    (G, {"recipe": {**defaults(G)["recipe"], "target_downstream": 1.5}}, "target_downstream"),
]


@pytest.mark.parametrize(("stem", "changes", "match"), PARAMETER_CASES, ids=[f"{s[:2]}-{m}" for s, _, m in PARAMETER_CASES])
def test_start_refuses_a_bad_parameter_before_any_work(tmp_path, stem, changes, match):
    with pytest.raises(ValueError, match=match):
        start_with(stem, tmp_path, **changes)
    assert nothing_written(tmp_path)


def test_the_notebooks_own_defaults_pass(tmp_path):
    """The catalogue's cases fail for the change they make, not because the defaults would."""
    for stem in (Q, B, M, G):
        assert start_with(stem, tmp_path).name == stem


# -- 2. what only the data can tell, refused when the notebook loads them ------------------------------

DATA_CASES: list[tuple[str, dict[str, Any], str]] = [
    (Q, {"forget_class": 12}, "forget_class.*classes"),
    (B, {"confusion_pair": [3, 12]}, "confusion_pair.*classes"),
    (G, {"forget_class": 12}, "forget_class.*classes"),
    (G, {"n_items": 600, "request_sizes": [16, 600]}, "n_items"),
    (G, {"forget_classes": [3, 12]}, "forget_class.*classes"),
]


@pytest.mark.parametrize(("stem", "changes", "match"), DATA_CASES, ids=[f"{s[:2]}-{m}" for s, _, m in DATA_CASES])
def test_data_checks_refuse_before_training(tmp_path, stem, changes, match):
    run = start_with(stem, tmp_path, **changes)
    with pytest.raises(ValueError, match=match):
        run.load_dataset(defaults(stem)["dataset"], defaults(stem)["dataset_kwargs"])
    assert nothing_written(tmp_path)


# -- 3. the batch: profile, --set, paths -------------------------------------------------------------------


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "profile.yaml"
    path.write_text(text)
    return path


def _file(tmp_path: Path) -> Path:
    (tmp_path / "a_file").write_text("x")
    return tmp_path / "a_file"


SMOKE = "smoke"
#: (profile text or None for smoke, run_batch keywords, match); {tmp} in a keyword is tmp_path.
BATCH_CASES: list[tuple[str | None, dict[str, Any], str]] = [
    ("defaults: {seed: 0\n", {}, "not valid YAML"),
    ("notebook: {}\n", {}, "notebook"),
    ("notebooks:\n  01_quickstrat: {methods: [retrain]}\n", {}, "01_quickstrat.*01_quickstart"),
    ("defaults: {output_dir: /tmp/x}\n", {}, "output_dir"),
    ("notebooks:\n  01_quickstart: {figures_dir: /tmp/x}\n", {}, "figures_dir"),
    ("defaults: [1, 2]\n", {}, "defaults"),
    ("notebooks:\n  01_quickstart: {forget_clas: 3}\n", {}, "forget_clas.*forget_class"),
    ("notebooks:\n  01_quickstart: {forget_class: 3.7}\n", {}, "forget_class"),
    ("notebooks:\n  01_quickstart: {forget_class: true}\n", {}, "forget_class"),
    ("notebooks:\n  01_quickstart: {threads: '1'}\n", {}, "threads"),
    ("notebooks:\n  01_quickstart: {methods: []}\n", {}, "methods"),
    ("notebooks:\n  01_quickstart: {hparams: {salun: {epochs: 1}}}\n", {}, "salun"),
    ("notebooks:\n  01_quickstart: {hparams: {finetune: {lr: .nan}}}\n", {}, "lr.*finite"),
    ("notebooks:\n  01_quickstart: {hparams: {finetune: {momentum: .inf}}}\n", {}, "momentum.*finite"),
    ("notebooks:\n  01_quickstart: {methods: [retrain, scrubb], hparams: {}}\n", {}, "scrubb"),
    ("notebooks:\n  02_scrub_and_baselines: {seeds: []}\n", {"only": [B]}, "seeds"),
    ("notebooks:\n  02_scrub_and_baselines: {random_fraction: 0}\n", {"only": [B]}, "random_fraction"),
    ("notebooks:\n  05_gan_unlearning: {n_items: 0}\n", {"only": [G]}, "n_items"),
    ("notebooks:\n  05_gan_unlearning: {forget_class: 2.5}\n", {"only": [G]}, "forget_class"),
    ("notebooks:\n  05_gan_unlearning: {forget_classes: [3, 3]}\n", {"only": [G]}, "forget_classes"),
    (None, {"sets": ["01_quickstart.forget_clas=3"]}, "forget_clas"),
    (None, {"sets": ["forget_class=3.7"]}, "forget_class"),
    (None, {"sets": ["threads=-1"]}, "threads"),
    (None, {"sets": ["01_quickstart.methods=[]"]}, "methods"),
    (None, {"only": ["01_quickstrat"]}, "01_quickstrat"),
    (None, {"seeds": [0, 0]}, "more than once"),
    (None, {"workers": 0}, "--workers"),
    (None, {"out": "{tmp}/a_file"}, "--out.*not a directory"),
    (None, {"out": "{tmp}/a_file/below"}, "--out.*a_file is a file"),
    (None, {"figures_dir": "{tmp}/a_file"}, "--figures.*not a directory"),
    (None, {"notebooks_dir": "{tmp}/no_notebooks"}, "--notebooks.*does not exist"),
    ("{tmp}/missing.yaml", {}, "missing.yaml.*does not exist"),
    ("defualt", {}, "defualt"),
]


@pytest.mark.parametrize(("profile", "kwargs", "match"), BATCH_CASES, ids=[m for _, _, m in BATCH_CASES])
def test_the_batch_refuses_a_bad_request_before_any_task(tmp_path, profile, kwargs, match):
    _file(tmp_path)
    kwargs = {"only": [Q], "out": str(tmp_path / "out"), **kwargs}
    kwargs = {k: v.replace("{tmp}", str(tmp_path)) if isinstance(v, str) else v for k, v in kwargs.items()}
    if profile is None:
        spec: str | Path = SMOKE
    elif profile.startswith("{tmp}") or "\n" not in profile:
        spec = profile.replace("{tmp}", str(tmp_path))
    else:
        spec = _yaml(tmp_path, profile)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=match):
        run_batch(spec, progress=False, dashboard=None, **kwargs)
    assert sorted(tmp_path.rglob("*")) == before  # no out dir, no figures, no lock, no batch.json


CLI_CASES: list[tuple[list[str], str]] = [
    (["--readme", "{tmp}/NO_README.md"], "--readme"),
    (["--docs", "{tmp}/a_file"], "--docs"),
    (["--set", "01_quickstart.forget_class=3.7"], "forget_class"),
    (["--out", "{tmp}/a_file"], "--out"),
    (["--out", "/proc/no-such-dir/out"], r"--out: /proc/no-such-dir/out cannot be created"),
    (["--workers", "1000"], r"--workers 1000 is more than \d+ .* set UNLEARN_MAX_WORKERS=1000"),
    (["--scheduler", "tcp://127.0.0.1:1"], r"--scheduler tcp://127.0.0.1:1: no Dask scheduler answers there"),
    (["--scheduler", "nonsense"], r"--scheduler must be tcp://HOST:PORT"),
    (["--set", "recipe={epochs: 1000000000}"], r"recipe\.epochs = 1000000000 is above 10,000 .* UNLEARN_ALLOW_LARGE=1"),
    (["--set", "hparams={scrub: {epochs: 50000}}"], r"hparams\.scrub\.epochs = 50000 is above"),
    (["--set", "threads=100000"], r"threads = 100000 is above 256"),
    (["--seeds", *map(str, range(1001))], r"seeds = 1001 seeds is above 1,000"),
]


@pytest.mark.parametrize(("args", "match"), CLI_CASES, ids=[m[:60] for _, m in CLI_CASES])
def test_the_cli_prints_one_error_line_and_no_traceback(tmp_path, capsys, args, match):
    _file(tmp_path)
    argv = ["--profile", SMOKE, "--only", Q, "--out", str(tmp_path / "out"), *(a.replace("{tmp}", str(tmp_path)) for a in args)]
    before = sorted(tmp_path.rglob("*"))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and re.search(match, err) and "Traceback" not in err
    assert sorted(tmp_path.rglob("*")) == before


# -- 4. loaders on small files in their true formats ------------------------------------------------------


def _medmnist(root: Path, images: np.ndarray | None = None, labels: np.ndarray | None = None) -> Callable[[], Any]:
    n = 8 if images is None else len(images)
    images = np.random.default_rng(0).integers(0, 256, (n, 28, 28), dtype=np.uint8) if images is None else images
    labels = (np.arange(n) % 4).reshape(n, 1) if labels is None else labels
    np.savez(root / "bloodmnist.npz", train_images=images, train_labels=labels)
    return lambda: load_medmnist(root, "bloodmnist", "train")


def _cifar_bin(root: Path, raw: bytes) -> Callable[[], Any]:
    for i in range(1, 6):
        rec = np.zeros((2, 3073), dtype=np.uint8)
        (root / f"data_batch_{i}.bin").write_bytes(rec.tobytes())
    (root / "data_batch_3.bin").write_bytes(raw)
    return lambda: load_cifar10(root, "train")


def _cifar_py(root: Path, data: Any, labels: Any) -> Callable[[], Any]:
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(pickle.dumps({"data": data, "labels": labels}, protocol=2))
    return lambda: load_cifar10(root, "test")


def _idx(root: Path, images: np.ndarray, labels: np.ndarray) -> Callable[[], Any]:
    write_idx(root / "train-images-idx3-ubyte", images)
    write_idx(root / "train-labels-idx1-ubyte", labels)
    return lambda: load_mnist_idx(root, "train")


CHEX_HEADER = "Path,Sex,Age,Frontal/Lateral,Pleural Effusion\n"


def _chexpert(root: Path, text: str) -> Callable[[], Any]:
    (root / "train.csv").write_text(text)
    return lambda: load_chexpert(root, "train")


def _nifti(root: Path, t1: np.ndarray, label: np.ndarray | None = None, corrupt: bytes | None = None) -> Callable[[], Any]:
    pre = root / "training" / "1" / "pre"
    pre.mkdir(parents=True)
    nib.save(nib.Nifti1Image(t1.astype(np.float32), np.eye(4)), str(pre / "T1.nii.gz"))
    seg = np.zeros(t1.shape, dtype=np.uint8) if label is None else label
    nib.save(nib.Nifti1Image(seg, np.eye(4)), str(root / "training" / "1" / "segm.nii.gz"))
    if corrupt is not None:
        (pre / "T1.nii.gz").write_bytes(corrupt)
    return lambda: load_mrbrains18(root, channels=("T1",), size=None)


def _weights(root: Path, raw: bytes) -> Callable[[], Any]:
    (root / "resnet_10.pth").write_bytes(raw)
    return lambda: load_plain_tensors(root / "resnet_10.pth", "MedicalNet weight file")


class _Code:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("pickled code ran",))


_U8 = np.random.default_rng(1).integers(0, 256, (6, 28, 28), dtype=np.uint8)
_VOL = np.random.default_rng(2).uniform(0, 1, (6, 6, 4))
_good_gz = gzip.compress(b"\x00" * 64)

#: (writer of the bad file(s) -> loader call, match: the file and what was expected)
LOADER_CASES: list[tuple[Callable[[Path], Callable[[], Any]], str]] = [
    (lambda r: _medmnist(r, images=_U8.astype(np.float32)), r"bloodmnist\.npz.*float.*0\.\.255 or floats in \[0, 1\]"),
    (lambda r: _medmnist(r, images=np.full((4, 28, 28), np.nan, np.float32)), r"bloodmnist\.npz.*NaN"),
    (lambda r: _medmnist(r, images=np.full((4, 28, 28), 300, np.int16)), r"bloodmnist\.npz.*0\.\.255"),
    (lambda r: _medmnist(r, images=np.zeros((4, 28, 28), np.complex64)), r"bloodmnist\.npz.*dtype"),
    (lambda r: _medmnist(r, labels=np.array([[0.0], [2.9], [1.0], [1.0], [0.0], [2.0], [1.0], [0.0]])), r"bloodmnist\.npz.*integer"),
    (lambda r: _medmnist(r, labels=np.array([[0], [-1], [1], [1], [0], [2], [1], [0]])), r"bloodmnist\.npz.*>= 0"),
    (lambda r: _medmnist(r, images=np.zeros((0, 28, 28), np.uint8), labels=np.zeros((0, 1), np.int64)), r"bloodmnist\.npz.*no images"),
    (lambda r: _medmnist(r, images=np.zeros((4, 28), np.uint8), labels=np.zeros((4, 1), np.int64)), r"bloodmnist\.npz.*\(N, H, W\)"),
    (lambda r: _cifar_bin(r, b""), r"data_batch_3\.bin.*no images"),
    (lambda r: _cifar_bin(r, b"\x00" * 100), r"data_batch_3\.bin.*3073-byte record"),
    (lambda r: _cifar_bin(r, bytes([10]) + b"\x00" * 3072), r"data_batch_3\.bin.*0\.\.9"),
    (lambda r: _cifar_py(r, np.zeros((2, 3000), np.uint8), [0, 1]), r"test_batch.*3072"),
    (lambda r: _cifar_py(r, [], []), r"test_batch.*no images"),
    (lambda r: _cifar_py(r, np.zeros((2, 3072), np.uint8), [0, -1]), r"test_batch.*0\.\.9"),
    (lambda r: _cifar_py(r, np.zeros((2, 3072), np.uint8), [0.5, 1.0]), r"test_batch.*integers"),
    (lambda r: _cifar_py(r, np.zeros((2, 3072), np.uint8), [0]), r"test_batch.*2 labels"),
    (lambda r: _cifar_py(r, np.zeros((2, 3072), np.float32), [0, 1]), r"test_batch.*uint8"),
    (lambda r: _idx(r, _U8, np.array([0, 1, 2, 3, 4, 10], np.uint8)), r"train-labels-idx1-ubyte.*0\.\.9"),
    (lambda r: _idx(r, _U8, np.array([0, 1, 2, 3, 4, -1], np.int8)), r"train-labels-idx1-ubyte.*0\.\.9"),
    (lambda r: _idx(r, _U8.astype(np.float32), np.arange(6, dtype=np.uint8)), r"train-images-idx3-ubyte.*unsigned-byte"),
    (lambda r: _idx(r, _U8[:0], np.arange(0, dtype=np.uint8)), r"train-images-idx3-ubyte.*no images"),
    (lambda r: _chexpert(r, CHEX_HEADER + "p/patient1/s1/v1_frontal.jpg,Male,unknown,Frontal,1\n"), r"train\.csv.*'Age'.*unknown"),
    (lambda r: _chexpert(r, CHEX_HEADER + "p/patient1/s1/v1_frontal.jpg,Male,40,Frontal,yes\n"), r"train\.csv.*Pleural Effusion.*yes"),
    (lambda r: _chexpert(r, CHEX_HEADER + "p/patient1/s1/v1_frontal.jpg,Male,-4,Frontal,1\n"), r"train\.csv.*'Age'.*>= 0"),
    (lambda r: _chexpert(r, ""), r"train\.csv.*not a CheXpert CSV"),
    (lambda r: _chexpert(r, CHEX_HEADER), r"train\.csv.*no rows"),
    (lambda r: _chexpert(r, "Path,Sex\np,Male\n"), r"train\.csv.*no column 'Age'"),
    (lambda r: _nifti(r, _VOL[:, :, 0]), r"T1\.nii\.gz.*3-D.*2-D"),
    (lambda r: _nifti(r, _VOL[..., None].repeat(2, axis=3)), r"T1\.nii\.gz.*3-D.*4-D"),
    (lambda r: _nifti(r, _VOL, label=np.zeros((6, 6, 5), np.uint8)), r"segm\.nii\.gz.*grid"),
    (lambda r: _nifti(r, _VOL, corrupt=b"not a nifti file"), r"T1\.nii\.gz.*not a readable NIfTI"),
    (lambda r: _nifti(r, _VOL, corrupt=_good_gz), r"T1\.nii\.gz.*not a readable NIfTI"),
    (lambda r: _weights(r, b"garbage, not a checkpoint" * 4), r"resnet_10\.pth.*MedicalNet weight file"),
    (lambda r: _weights(r, pickle.dumps({"w": _Code()})), r"resnet_10\.pth.*MedicalNet weight file"),
]


@pytest.mark.parametrize(("write", "match"), LOADER_CASES, ids=[m.split(".*")[0].replace("\\", "") for _, m in LOADER_CASES])
def test_a_loader_refuses_a_bad_file_naming_it(tmp_path, write, match):
    load = write(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    with pytest.raises(ValueError, match=match) as err:
        load()
    assert "weights_only=False" not in str(err.value)  # never the advice: it would run the file's code
    assert sorted(tmp_path.rglob("*")) == before


# -- 5. split requests --------------------------------------------------------------------------------------

LABELS = np.arange(40) % 4
SPLIT_CASES: list[tuple[np.ndarray, dict[str, Any], str]] = [
    (LABELS, {"kind": "class", "forget_class": 3.7}, "forget_class"),
    (LABELS, {"kind": "class", "forget_class": True}, "forget_class"),
    (LABELS, {"kind": "class", "forget_class": 7}, "forget_class"),
    (LABELS, {"kind": "random", "fraction": True}, "fraction"),
    (LABELS, {"kind": "random", "fraction": 0.0}, "fraction"),
    (LABELS, {"kind": "selective", "forget_class": 1, "n_forget": 0}, "n_forget"),
    (np.zeros(40, dtype=np.int64), {"kind": "class", "forget_class": 0}, "retain set is empty.*whole training pool"),
    (LABELS, {"kind": "index", "forget": []}, "forget"),
]


@pytest.mark.parametrize(("labels", "kwargs", "match"), SPLIT_CASES, ids=[m.split(".*")[0] for _, _, m in SPLIT_CASES])
def test_a_bad_split_request_is_refused(labels, kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_forget_split(labels, seed=0, **kwargs)


CATALOGUE = len(PARAMETER_CASES) + len(DATA_CASES) + len(BATCH_CASES) + len(CLI_CASES) + len(LOADER_CASES) + len(SPLIT_CASES)


def test_float_pixels_in_unit_range_are_not_divided_again(tmp_path):
    """The silent-wrong case behind one refusal: MedMNIST floats in [0, 1] are kept as they are."""
    x = np.random.default_rng(0).uniform(0, 1, (8, 28, 28)).astype(np.float32)
    ds = _medmnist(tmp_path, images=x)()
    assert np.allclose(ds.x[:, 0].numpy(), x)
    raw = _medmnist(tmp_path, images=(x * 255).astype(np.uint8))()
    assert float(raw.x.max()) <= 1.0 and np.allclose(raw.x[:, 0].numpy(), (x * 255).astype(np.uint8) / 255.0)


def test_the_readme_states_the_catalogue_size():
    """The README's Reliability section quotes this file's count: a new case updates both."""
    text = (REPO_ROOT / "README.md").read_text()
    stated = re.search(r"(\d+) bad inputs are catalogued in `tests/test_bad_inputs.py`", text)
    assert stated is not None and int(stated.group(1)) == CATALOGUE >= 80
