"""Which CPU kernel selection does this torch build honour? One fresh process per setting, in one run.

    .venv/bin/python benchmarks/kernel_selection.py [--out benchmarks/results/kernel_selection.md]

Why: ``make test-kernels`` reruns the behavioural tests under ``ATEN_CPU_CAPABILITY=default``,
``ONEDNN_MAX_CPU_ISA=SSE41`` and ``MKL_ENABLE_INSTRUCTIONS=SSE4_2`` to stand in for another x86 CPU. That
only means something for the variables this build reads. For each setting, a child process reports
ATen's CPU capability, the ISA oneDNN dispatched a convolution to (from ``ONEDNN_VERBOSE``), whether
torch has MKL, and a checksum of one training step of a small CNN: a changed checksum shows that the
setting changed the arithmetic, not just a flag.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

SETTINGS: dict[str, dict[str, str]] = {
    "torch's default": {},
    "ATEN_CPU_CAPABILITY=default": {"ATEN_CPU_CAPABILITY": "default"},
    "ONEDNN_MAX_CPU_ISA=SSE41": {"ONEDNN_MAX_CPU_ISA": "SSE41"},
    "MKL_ENABLE_INSTRUCTIONS=SSE4_2": {"MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
    "make test-kernels (all three)": {"ATEN_CPU_CAPABILITY": "default", "ONEDNN_MAX_CPU_ISA": "SSE41", "MKL_ENABLE_INSTRUCTIONS": "SSE4_2"},
}

CHILD = r"""
import json, re, sys, io, os
import torch
torch.manual_seed(0)
torch.set_num_threads(1)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 8, 3, padding=1), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(8 * 28 * 28, 10))
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
opt = torch.optim.SGD(net.parameters(), lr=0.1)
for _ in range(3):
    opt.zero_grad()
    torch.nn.functional.cross_entropy(net(x), y).backward()
    opt.step()
flat = torch.cat([p.detach().flatten() for p in net.parameters()]).double()
print(json.dumps({"capability": torch.backends.cpu.get_cpu_capability(), "mkl": torch.backends.mkl.is_available(),
                  "mkldnn": torch.backends.mkldnn.is_available(), "torch": torch.__version__,
                  "checksum": f"{float((flat * torch.arange(1, flat.numel() + 1, dtype=torch.float64)).sum()):.10e}"}))
"""


def probe(extra: dict[str, str]) -> dict[str, object]:
    env = {**os.environ, **extra, "ONEDNN_VERBOSE": "1"}
    out = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, check=True).stdout.splitlines()
    info = json.loads(out[-1])
    # e.g. "onednn_verbose,v1,info,cpu,isa:Intel SSE4.1" and
    # "onednn_verbose,v1,primitive,exec,cpu,convolution,jit:avx512_core,forward_training,..."
    isa = [line.split("isa:", 1)[1] for line in out if line.startswith("onednn_verbose") and ",info,cpu,isa:" in line]
    info["onednn_isa"] = isa[0] if isa else "no oneDNN call"
    conv = [line.split(",") for line in out if line.startswith("onednn_verbose") and ",exec,cpu,convolution," in line]
    info["onednn_conv"] = conv[0][conv[0].index("convolution") + 1] if conv else "not oneDNN"
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/kernel_selection.md"))
    args = ap.parse_args()
    rows = {name: probe(extra) for name, extra in SETTINGS.items()}
    base = rows["torch's default"]["checksum"]
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
        platform.processor(),
    )
    lines = [
        "# CPU kernel selection this torch build honours",
        "",
        f"`python benchmarks/kernel_selection.py` on {cpu}, torch {rows[next(iter(rows))]['torch']}, one thread.",
        "",
        "| setting | ATen capability | oneDNN ISA | oneDNN convolution kernel | MKL | 3-step checksum | arithmetic changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        changed = "-" if name == "torch's default" else ("yes" if r["checksum"] != base else "no")
        lines.append(f"| {name} | {r['capability']} | {r['onednn_isa']} | {r['onednn_conv']} | {r['mkl']} | {r['checksum']} | {changed} |")
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
