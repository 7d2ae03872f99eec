"""deterministic_cuda: flags for a GPU, nothing on the CPU (whose kernels are deterministic already)."""

from __future__ import annotations

import os

import torch

from unlearn_lib.determinism import CUBLAS_WORKSPACE, deterministic_cuda


def test_cpu_is_left_alone(monkeypatch):
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    before = (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic)
    assert deterministic_cuda("cpu") is False
    assert (torch.are_deterministic_algorithms_enabled(), torch.backends.cudnn.deterministic) == before
    assert "CUBLAS_WORKSPACE_CONFIG" not in os.environ


def test_a_gpu_gets_deterministic_kernels_and_a_users_workspace_is_kept(monkeypatch):
    """Only sets flags (no CUDA call), so it runs without a GPU; the flags are restored afterwards."""
    saved = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    saved_cudnn = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    try:
        monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
        assert deterministic_cuda(torch.device("cuda", 0)) is True
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == CUBLAS_WORKSPACE
        assert torch.are_deterministic_algorithms_enabled() and torch.is_deterministic_algorithms_warn_only_enabled()
        assert torch.backends.cudnn.deterministic and not torch.backends.cudnn.benchmark
        monkeypatch.setenv("CUBLAS_WORKSPACE_CONFIG", ":16:8")
        deterministic_cuda("cuda")
        assert os.environ["CUBLAS_WORKSPACE_CONFIG"] == ":16:8"
    finally:
        torch.use_deterministic_algorithms(saved[0], warn_only=saved[1])
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = saved_cudnn


def test_resolving_a_gpu_asks_for_deterministic_kernels_and_the_cpu_does_not(monkeypatch):
    """Every run resolves its device through resolve_device, so that is where a GPU gets its kernels."""
    import unlearn_lib.utils as utils

    asked = []
    monkeypatch.setattr(utils, "deterministic_cuda", lambda dev: asked.append(torch.device(dev)) or True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert utils.resolve_device("auto").type == "cuda" and utils.resolve_device("cuda:0").type == "cuda"
    assert utils.resolve_device(torch.device("cuda", 1)).type == "cuda"
    assert [d.type for d in asked] == ["cuda"] * 3
    assert utils.resolve_device("cpu").type == "cpu" and len(asked) == 3
