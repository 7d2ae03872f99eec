"""Loaders on tiny files written in the true on-disk formats."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from unlearn_lib.data import load_embedded_mnist, load_mnist_idx, read_idx, write_idx


def _write_mnist(root, n=6, gz=True):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n, dtype=np.uint8)
    ext = ".gz" if gz else ""
    write_idx(root / f"train-images-idx3-ubyte{ext}", images)
    write_idx(root / f"train-labels-idx1-ubyte{ext}", labels)
    return images, labels


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_roundtrip(tmp_path, gz):
    images, labels = _write_mnist(tmp_path, gz=gz)
    ds = load_mnist_idx(tmp_path, "train")
    assert ds.x.shape == (6, 1, 28, 28) and ds.num_classes == 10
    np.testing.assert_allclose(ds.x[:, 0].numpy() * 255.0, images, atol=1e-4)
    np.testing.assert_array_equal(ds.y.numpy(), labels)


def test_idx_header_is_the_standard_one(tmp_path):
    write_idx(tmp_path / "a", np.zeros((2, 3), dtype=np.uint8))
    raw = (tmp_path / "a").read_bytes()
    assert raw[:4] == bytes([0, 0, 0x08, 2]) and raw[4:8] == (2).to_bytes(4, "big") and raw[8:12] == (3).to_bytes(4, "big")
    assert len(raw) == 12 + 6


def test_idx_errors(tmp_path):
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "bad")
    with gzip.open(tmp_path / "short.gz", "wb") as fh:
        fh.write(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match="bytes follow"):
        read_idx(tmp_path / "short.gz")


def test_missing_mnist_file_is_named(tmp_path):
    _write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(FileNotFoundError, match="train-labels-idx1-ubyte"):
        load_mnist_idx(tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist_idx(tmp_path / "nope")
    with pytest.raises(ValueError, match="split"):
        load_mnist_idx(tmp_path, "validation")


def test_embedded_mnist_is_real_stratified_and_seeded():
    train, test = load_embedded_mnist(seed=0)
    assert len(train) == 4000 and len(test) == 1000
    assert np.bincount(test.labels).tolist() == [100] * 10
    assert 0.0 <= float(train.x.min()) and float(train.x.max()) <= 1.0
    train2, _ = load_embedded_mnist(seed=0)
    train3, _ = load_embedded_mnist(seed=1)
    assert (train.x == train2.x).all() and not (train.x == train3.x).all()
