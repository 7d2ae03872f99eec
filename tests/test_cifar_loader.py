"""The CIFAR-10 loader on tiny files in the true formats, and the unpickler refusing code."""

from __future__ import annotations

import os
import pickle
import re

import numpy as np
import pytest

from unlearn_lib.data import load_cifar10, safe_load_pickle

BIN_TRAIN = [f"data_batch_{i}.bin" for i in range(1, 6)]


def _records(labels: list[int], seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 3072) in CIFAR's layout (R plane, G plane, B plane, each 32x32 row-major)."""
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, size=(len(labels), 3072), dtype=np.uint8)
    return img, np.array(labels, dtype=np.uint8)


def _write_bin(folder, name, labels, seed):
    img, lab = _records(labels, seed)
    (folder / name).write_bytes(np.concatenate([lab[:, None], img], axis=1).tobytes())
    return img, lab


def test_binary_version_layout_and_labels(tmp_path):
    folder = tmp_path / "cifar-10-batches-bin"
    folder.mkdir()
    written = [_write_bin(folder, n, [i % 10, (i + 3) % 10], i) for i, n in enumerate(BIN_TRAIN)]
    _write_bin(folder, "test_batch.bin", [9, 0, 4], 99)
    train, test = load_cifar10(tmp_path, "train"), load_cifar10(tmp_path, "test")
    assert train.x.shape == (10, 3, 32, 32) and test.x.shape == (3, 3, 32, 32)
    assert test.y.tolist() == [9, 0, 4]
    assert train.y.tolist() == [v for _, lab in written for v in lab.tolist()]
    img0 = written[0][0][0]
    # channel planes: byte 0 is R(0,0), byte 1024 is G(0,0), byte 3071 is B(31,31)
    assert train.x[0, 0, 0, 0] == pytest.approx(img0[0] / 255)
    assert train.x[0, 1, 0, 0] == pytest.approx(img0[1024] / 255)
    assert train.x[0, 2, 31, 31] == pytest.approx(img0[3071] / 255)
    assert train.x[0, 0, 1, 0] == pytest.approx(img0[32] / 255)  # row-major within a plane
    assert float(train.x.max()) <= 1.0 and train.num_classes == 10


def test_binary_version_corrupt_files(tmp_path):
    for n in BIN_TRAIN:
        _write_bin(tmp_path, n, [1], 0)
    (tmp_path / "data_batch_3.bin").write_bytes(b"\x01" * 100)
    with pytest.raises(ValueError, match="not a multiple"):
        load_cifar10(tmp_path, "train")
    _write_bin(tmp_path, "data_batch_3.bin", [12], 0)
    with pytest.raises(ValueError, match=r"0\.\.9"):
        load_cifar10(tmp_path, "train")


def test_missing_files_and_bad_split(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"test_batch\.bin"):
        load_cifar10(tmp_path, "test")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_cifar10(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, "validation")


def test_python_version_loads_through_safe_unpickler(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    img, lab = _records([3, 1, 4], 5)
    batch = {"batch_label": "testing batch 1 of 1", "labels": lab.tolist(), "data": img, "filenames": ["a.png", "b.png", "c.png"]}
    (folder / "test_batch").write_bytes(pickle.dumps(batch, protocol=2))
    test = load_cifar10(tmp_path, "test")
    assert test.y.tolist() == [3, 1, 4]
    assert test.x[2, 1, 0, 0] == pytest.approx(img[2, 1024] / 255)


class _Evil:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps({"data": _Evil(str(marker)), "labels": [0]}, protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="refusing"):
        safe_load_pickle(evil)
    assert not marker.exists(), "the payload ran"
    # the same payload as a CIFAR python batch, through the loader
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(evil.read_bytes())
    with pytest.raises(pickle.UnpicklingError):
        load_cifar10(tmp_path, "test")
    assert not marker.exists()


@pytest.mark.parametrize("payload", [("builtins", "eval"), ("subprocess", "Popen"), ("posix", "system")])
def test_unpickler_refuses_globals(tmp_path, payload):
    module, name = payload
    raw = b"\x80\x02c" + f"{module}\n{name}\n".encode() + b"X\x04\x00\x00\x00trueq\x00\x85q\x01Rq\x02."
    path = tmp_path / "g.pkl"
    path.write_bytes(raw)
    with pytest.raises(pickle.UnpicklingError, match=re.escape(f"{module}.{name}")):
        safe_load_pickle(path)
