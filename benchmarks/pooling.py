"""Where a small_cnn training step spends its time on one CPU thread, and whether channels-last helps.

Why: profiling 01's unlearning cell (the long pole of ``make test``, see ``docs/reproducibility.md``) put
``max_pool2d`` at as much time as ``conv2d`` (66 s against 62 s of 263 s). This measures one training
step of the classifier studies' ``small_cnn`` on MNIST-sized input, per operator (torch's profiler), in
the default (contiguous) memory format and in channels-last, with ratios from one run on this machine.
Changing the model's memory format would change every classifier study's task key, so this only
measures; the numbers say whether that change is worth a rerun.

    python benchmarks/pooling.py [--steps 30] [--out benchmarks/results/pooling.md]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import torch
from torch import nn
from torch.profiler import ProfilerActivity, profile

from unlearn_lib.models import build_model

BATCH = 128


def _step(model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor) -> None:
    opt.zero_grad(set_to_none=True)
    nn.functional.cross_entropy(model(x), y).backward()
    opt.step()


def measure(channels_last: bool, steps: int) -> tuple[float, dict[str, float]]:
    """(seconds per step, {operator: share of the profiled CPU time}) for one memory format."""
    torch.manual_seed(0)
    model = build_model("small_cnn", in_channels=1, num_classes=10, input_size=28)
    x, y = torch.randn(BATCH, 1, 28, 28), torch.randint(0, 10, (BATCH,))
    if channels_last:
        model, x = model.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    for _ in range(3):  # warm-up: first calls pick kernels and allocate
        _step(model, opt, x, y)
    start = time.perf_counter()
    for _ in range(steps):
        _step(model, opt, x, y)
    per_step = (time.perf_counter() - start) / steps
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(5):
            _step(model, opt, x, y)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    wanted = (
        "aten::max_pool2d_with_indices",
        "aten::max_pool2d_with_indices_backward",
        "aten::mkldnn_convolution",
        "aten::convolution_backward",
        "aten::native_batch_norm",
        "aten::native_batch_norm_backward",
    )
    shares = {e.key: e.self_cpu_time_total / total for e in events if e.key in wanted}
    return per_step, shares


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per memory format (>= 1)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "pooling.md")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error(f"--steps must be >= 1, got {args.steps}")
    torch.set_num_threads(1)
    rows = {name: measure(cl, args.steps) for name, cl in (("contiguous", False), ("channels-last", True))}
    ops = sorted({op for _, shares in rows.values() for op in shares})
    lines = [
        "# small_cnn training step on one CPU thread, per memory format",
        "",
        f"`python benchmarks/pooling.py --steps {args.steps}` · batch {BATCH} of 1x28x28 · torch {torch.__version__} · "
        f"{platform.processor() or platform.machine()} · one run",
        "",
        "| memory format | ms per step | " + " | ".join(f"{op} share" for op in ops) + " |",
        "|---|---|" + "---|" * len(ops),
    ]
    for name, (sec, shares) in rows.items():
        lines.append(f"| {name} | {1000 * sec:.1f} | " + " | ".join(f"{shares.get(op, 0.0):.0%}" for op in ops) + " |")
    ratio = rows["contiguous"][0] / rows["channels-last"][0]
    lines += ["", f"channels-last speed-up over contiguous (same run): {ratio:.2f}x", ""]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
