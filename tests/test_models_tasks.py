from __future__ import annotations

import pytest
import torch

from unlearn_lib.models import build_model, list_models
from unlearn_lib.tasks import ClassificationTask, Task


@pytest.mark.parametrize("name,shape", [("small_cnn", (2, 1, 28, 28)), ("allcnn", (2, 3, 32, 32)), ("resnet18", (2, 3, 32, 32))])
def test_classifiers_forward_and_blocks(name, shape):
    model = build_model(name, in_channels=shape[1], num_classes=7, width=0.125, input_size=shape[-1])
    assert model(torch.rand(shape)).shape == (2, 7)
    blocks = model.blocks()
    assert len(blocks) >= 3
    owned = {id(p) for b in blocks for p in b.parameters()}
    assert owned == {id(p) for p in model.parameters()}, "blocks() must cover every parameter"


def test_unknown_model_and_arguments():
    with pytest.raises(ValueError, match="valid names: allcnn"):
        build_model("vgg")
    with pytest.raises(ValueError, match="does not accept"):
        build_model("small_cnn", depth=3)
    assert {"small_cnn", "allcnn", "resnet18"} <= set(list_models())


def test_task_random_targets_exclude_the_true_label():
    task = ClassificationTask(5)
    y = torch.arange(5).repeat(200)
    r = task.random_targets(y, torch.Generator().manual_seed(0))
    assert (r != y).all() and set(r.tolist()) == set(range(5))
    with pytest.raises(ValueError, match="num_classes"):
        ClassificationTask(1)


def test_divergence_and_per_example_shapes_for_dense_logits():
    task = Task(3)
    student, teacher = torch.randn(2, 3, 4, 4, 4), torch.randn(2, 3, 4, 4, 4)
    assert task.divergence(student, teacher, 2.0).shape == (2,)
    assert torch.allclose(task.divergence(teacher, teacher, 4.0), torch.zeros(2), atol=1e-6)
    assert (task.divergence(student, teacher, 1.0) > 0).all()
    y = torch.randint(0, 3, (2, 4, 4, 4))
    assert task.per_example_loss(student, y).shape == (2,) and task.per_example_correct(student, y).shape == (2,)
