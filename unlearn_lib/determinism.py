"""The same seed, the same weights on one GPU, as on the CPU.

Why: on a GPU, cuDNN may pick convolution algorithms by timing them, and several backward kernels add
with atomics in whatever order threads finish. Measured on an NVIDIA H200 (torch 2.11, ``bash
tools/gpu_check.sh``, docs/reproducibility.md): without these settings Finetune and SCRUB from one seed gave
different weights on a small CNN, and so did the 3D segmentation mechanics, so the project's
"same seed, same numbers on one machine" did not hold on a GPU.

:func:`deterministic_cuda` asks torch for deterministic kernels. Ops that have none only warn
(``warn_only``), so a run never stops for them, and the warning names each op that can still vary.
It does nothing on the CPU, whose kernels are deterministic for a fixed thread count.

Every run gets it through :func:`unlearn_lib.utils.resolve_device`, which calls it whenever the device
resolves to a GPU; call it yourself only for code that picks its device without the library.
"""

from __future__ import annotations

import os

import torch

__all__ = ["CUBLAS_WORKSPACE", "deterministic_cuda"]

#: cuBLAS is deterministic only with a fixed workspace (NVIDIA's cuBLAS docs, "Results reproducibility").
CUBLAS_WORKSPACE = ":4096:8"


def deterministic_cuda(device: torch.device | str) -> bool:
    """Ask for deterministic CUDA kernels when ``device`` is a GPU; return whether anything was set.

    Call it before the process's first cuBLAS call: cuBLAS reads ``CUBLAS_WORKSPACE_CONFIG`` when it
    creates its handle. A value the user set is kept.
    """
    if torch.device(device).type != "cuda":
        return False
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.backends.cudnn.benchmark = False
    torch.backends.cudnn.deterministic = True
    torch.use_deterministic_algorithms(True, warn_only=True)
    return True
