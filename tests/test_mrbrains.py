"""MRBrainS18 loader on tiny NIfTI files written in the release's on-disk layout."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest
import torch

from unlearn_lib.data.mrbrains import load_mrbrains18, mrbrains_label_map

SHAPE = (8, 8, 4)


def _write(path, array, dtype=np.float32):
    path.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(array.astype(dtype), np.diag([0.96, 0.96, 3.0, 1.0])), str(path))


@pytest.fixture
def root(tmp_path):
    rng = np.random.default_rng(0)
    for i, sid in enumerate(("1", "070")):
        base = tmp_path / "training" / sid
        for j, name in enumerate(("T1", "reg_IR", "FLAIR")):
            _write(base / "pre" / f"{name}.nii.gz", rng.uniform(0, 100 * (j + 1), SHAPE))
        seg = (np.arange(np.prod(SHAPE)).reshape(SHAPE) + i) % 11  # every label 0-10
        _write(base / "segm.nii.gz", seg, np.uint8)
    return tmp_path


def test_layout_channels_and_tissue_merge(root):
    ds = load_mrbrains18(root, channels=("T1", "FLAIR"), merge="tissues", size=None)
    assert ds.x.shape == (2, 2, *SHAPE) and ds.y.shape == (2, *SHAPE) and ds.num_classes == 4
    assert list(ds.meta["subject"]) == [1, 70]
    assert float(ds.x.min()) == pytest.approx(0.0) and float(ds.x.max()) == pytest.approx(1.0)
    raw = (np.arange(np.prod(SHAPE)).reshape(SHAPE)) % 11
    expected = mrbrains_label_map("tissues")[raw]
    # Axis order may be reoriented by the loader; compare label histograms and the voxel-wise map.
    assert torch.equal(ds.y[0], torch.from_numpy(expected))
    assert set(ds.y.unique().tolist()) == {0, 1, 2, 3}
    # CSF = extracerebral CSF (5) + ventricles (6); GM = cortex (1) + basal ganglia (2); WM = 3 + lesions 4.
    assert (ds.y[0] == 1).sum() == np.isin(raw, [5, 6]).sum()
    assert (ds.y[0] == 0).sum() == np.isin(raw, [0, 7, 8, 9, 10]).sum()


def test_structures_merge_and_resize(root):
    ds = load_mrbrains18(root, merge="structures", size=6)
    assert ds.x.shape == (2, 3, 6, 6, 6) and ds.num_classes == 9
    assert int(ds.y.max()) <= 8 and ds.y.dtype == torch.int64
    table = mrbrains_label_map("structures")
    assert table[9] == 0 and table[10] == 0 and list(table[1:9]) == list(range(1, 9))


def test_missing_file_is_named(root):
    (root / "training" / "070" / "pre" / "FLAIR.nii.gz").unlink()
    with pytest.raises(FileNotFoundError, match=r"070/pre/FLAIR\.nii\.gz"):
        load_mrbrains18(root)
    load_mrbrains18(root, channels=("T1",), size=4)  # FLAIR not asked for: fine
    with pytest.raises(FileNotFoundError, match="training"):
        load_mrbrains18(root / "nowhere")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"channels": ("T2",)}, "channels"), ({"channels": ()}, "channels"), ({"merge": "lobes"}, "merge"), ({"size": 0}, "size")],
)
def test_bad_arguments(root, kwargs, match):
    with pytest.raises(ValueError, match=match):
        load_mrbrains18(root, **kwargs)
