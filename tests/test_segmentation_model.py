"""The Med3D segmenter and the MedicalNet weight loader."""

from __future__ import annotations

import pytest
import torch

from unlearn_lib.models import build_model
from unlearn_lib.models.med3d import Med3DSegmenter, load_medicalnet_weights

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("depth", [10, 18, 34, 50])
def test_depths_shapes_and_architecture(depth):
    m = build_model("med3d_resnet", depth=depth, width=0.0625, in_channels=2, num_classes=3)
    x = torch.randn(1, 2, 16, 16, 16)
    assert m(x).shape == (1, 3, 16, 16, 16)
    assert m.encoder(x).shape[2:] == (2, 2, 2)  # stem 2, max-pool 2, layer2 2; layers 3-4 keep the size
    # Dilations 2 and 4 in the last two stages, stride 1 there.
    assert m.encoder.layer3[0].conv1.stride == (1, 1, 1) or m.encoder.layer3[0].conv2.stride == (1, 1, 1)
    convs3 = [c for c in m.encoder.layer3.modules() if isinstance(c, torch.nn.Conv3d) and c.kernel_size == (3, 3, 3)]
    convs4 = [c for c in m.encoder.layer4.modules() if isinstance(c, torch.nn.Conv3d) and c.kernel_size == (3, 3, 3)]
    assert {c.dilation for c in convs3} == {(2, 2, 2)} and {c.dilation for c in convs4} == {(4, 4, 4)}
    head = m.decoder
    assert isinstance(head[0], torch.nn.ConvTranspose3d) and head[0].out_channels == 32 and head[0].stride == (2, 2, 2)
    assert head[3].kernel_size == (3, 3, 3) and head[6].kernel_size == (1, 1, 1)
    assert len(m.blocks()) == 6


def test_resolution_options():
    m = Med3DSegmenter(depth=10, width=0.0625, stem_stride=1, max_pool=False)
    assert m.encoder(torch.zeros(1, 1, 16, 16, 16)).shape[2:] == (8, 8, 8)
    assert m(torch.zeros(1, 1, 12, 16, 20)).shape == (1, 4, 12, 16, 20)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"depth": 20}, "depth"), ({"in_channels": 0}, "in_channels"), ({"width": 0.0}, "width"), ({"num_classes": 1}, "num_classes")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        build_model("med3d_resnet", **kwargs)


def _medicalnet_file(tmp_path, model: Med3DSegmenter, with_head: bool = False, wrap: bool = True):
    state = {f"module.{k.removeprefix('encoder.')}": v.clone() for k, v in model.state_dict().items() if k.startswith("encoder.")}
    if with_head:
        state.update(
            {f"module.conv_seg.{k.removeprefix('decoder.')}": v.clone() for k, v in model.state_dict().items() if k.startswith("decoder.")}
        )
    state["module.fc.weight"] = torch.zeros(2, 2)  # an extra key the segmenter does not have
    path = tmp_path / "resnet_10.pth"
    torch.save({"state_dict": state} if wrap else state, path)
    return path


def test_medicalnet_loader_round_trip(tmp_path):
    torch.manual_seed(0)
    source = Med3DSegmenter(depth=10, width=0.0625)
    path = _medicalnet_file(tmp_path, source)
    target = Med3DSegmenter(depth=10, width=0.0625)
    report = load_medicalnet_weights(target, path)
    for k, v in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[k], v)
    assert report.unexpected == ["encoder.fc.weight"]
    assert report.missing and all(k.startswith("decoder.") for k in report.missing)  # the head stays at init
    assert "missing" in str(report)
    full = load_medicalnet_weights(Med3DSegmenter(depth=10, width=0.0625), _medicalnet_file(tmp_path, source, True, wrap=False))
    assert not full.missing


def test_medicalnet_loader_refuses_files_that_do_not_fit(tmp_path):
    path = _medicalnet_file(tmp_path, Med3DSegmenter(depth=10, width=0.0625))
    with pytest.raises(ValueError, match="does not fit"):
        load_medicalnet_weights(Med3DSegmenter(depth=10, width=0.125), path)  # other width
    with pytest.raises(ValueError, match="lacks"):
        load_medicalnet_weights(Med3DSegmenter(depth=18, width=0.0625), path)  # other depth
    with pytest.raises(FileNotFoundError, match=r"resnet_50\.pth"):
        load_medicalnet_weights(Med3DSegmenter(depth=10, width=0.0625), tmp_path / "resnet_50.pth")
    junk = tmp_path / "junk.pth"
    torch.save({"state_dict": {"a.b": torch.zeros(1)}}, junk)
    with pytest.raises(ValueError, match="shares no parameter"):
        load_medicalnet_weights(Med3DSegmenter(depth=10, width=0.0625), junk)
    torch.save([1, 2], junk)
    with pytest.raises(ValueError, match="state dict"):
        load_medicalnet_weights(Med3DSegmenter(depth=10, width=0.0625), junk)
