"""Time the study's training steps under the environment a Dask worker gives its children, with and
without glibc's ``MALLOC_TRIM_THRESHOLD_``, in one run.

    UNLEARN_PROGRESS=0 python benchmarks/bench_kernel_env.py [--repeats 2] [--workloads gan classifier seg3d]

Why: a Dask nanny starts each worker with ``distributed.nanny.pre-spawn-environ`` (by default
``MALLOC_TRIM_THRESHOLD_=65536`` and one OpenMP/MKL/OpenBLAS thread), and every notebook kernel the
batch starts on that worker inherits it. A 64 KiB trim threshold makes glibc hand freed memory back to
the system almost at once, so torch's many short-lived CPU tensors are mapped and faulted in again on
every step. This script runs the same one-thread workloads in fresh processes under both environments
(alternating, ``--repeats`` times each) and prints seconds and the ratio:

* ``gan``: 200 iterations of the default profile's DCGAN on the embedded digits (training, notebook 05);
* ``gan_cascade``: the default cascade unlearning digit 7 from such a DCGAN (notebook 05's methods);
* ``classifier``: one epoch of ``small_cnn`` on the 4,000 embedded digits (notebooks 01, 02, 04);
* ``seg3d``: 20 steps of the default profile's 3D ResNet-10 U-Net on 32^3 patches (notebook 03).

Timings depend on the machine and its load: compare the ratio within one run only.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import replace

WORKLOADS = ("gan", "gan_cascade", "classifier", "seg3d")


def run_workload(name: str) -> float:
    """Seconds one workload takes here (one torch thread), after a short warm-up outside the timing."""
    import torch

    torch.set_num_threads(1)
    if name == "gan":
        from unlearn_lib.data import load_dataset
        from unlearn_lib.studies.gan.training import GANTrainConfig, make_gan, train_gan

        data = load_dataset("mnist-embedded").train
        cfg = GANTrainConfig(iterations=200, batch_size=64, latent_dim=64, g_width=32, d_width=32, lr_g=5e-4, lr_d=5e-4, seed=0)
        train_gan(make_gan(cfg, 1, 28), data, replace(cfg, iterations=5), torch.device("cpu"))
        gan = make_gan(cfg, 1, 28)
        start = time.perf_counter()
        train_gan(gan, data, cfg, torch.device("cpu"))
        return time.perf_counter() - start
    if name == "gan_cascade":
        import numpy as np

        from unlearn_lib.data import load_dataset
        from unlearn_lib.studies.gan import unlearn_gan
        from unlearn_lib.studies.gan.training import GANTrainConfig, make_gan

        data = load_dataset("mnist-embedded").train
        cfg = GANTrainConfig(iterations=1, batch_size=64, latent_dim=64, g_width=32, d_width=32, lr_g=5e-4, lr_d=5e-4, seed=0)
        seven = np.flatnonzero(data.y.numpy() == 7)
        retain, forget = data.subset(np.flatnonzero(data.y.numpy() != 7), "retain"), data.subset(seven, "forget")
        cascade = {"chunk_size": 32, "unlearn_steps": 10, "learn_steps": 5, "lr_g": 1e-3, "lr_d": 1e-3}

        def once(images: object) -> float:
            kw = {"retain": retain, "forget": images, "recipe": cfg, "config": cascade, "forget_class": 7, "device": "cpu"}
            return unlearn_gan("gan_cascaded", make_gan(cfg, 1, 28), **kw).seconds

        once(data.subset(seven[:32], "warm-up"))
        return once(forget)
    if name == "classifier":
        from unlearn_lib.data import load_dataset
        from unlearn_lib.models import build_model
        from unlearn_lib.tasks import ClassificationTask
        from unlearn_lib.training import train_model

        data = load_dataset("mnist-embedded").train
        train_model(build_model("small_cnn"), data.subset(list(range(256)), "warm-up"), ClassificationTask(10), {"epochs": 1}, seed=0)
        start = time.perf_counter()
        train_model(build_model("small_cnn"), data, ClassificationTask(10), {"epochs": 1, "lr": 0.05}, seed=0)
        return time.perf_counter() - start
    if name == "seg3d":
        from unlearn_lib.models import build_model

        torch.manual_seed(0)
        net = build_model(
            "med3d_resnet", in_channels=1, num_classes=4, depth=10, width=0.25, stem_stride=1, max_pool=True, head="unet", head_channels=16
        )
        opt = torch.optim.Adam(net.parameters(), lr=3e-3)
        x, y = torch.rand(2, 1, 32, 32, 32), torch.randint(0, 4, (2, 32, 32, 32))

        def step() -> None:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(net(x), y).backward()
            opt.step()

        step()
        start = time.perf_counter()
        for _ in range(20):
            step()
        return time.perf_counter() - start
    raise ValueError(f"unknown workload {name!r}; expected one of {WORKLOADS}")


def environments() -> dict[str, dict[str, str]]:
    """A batch kernel's environment (:func:`unlearn_lib.batch.task.kernel_env`, one thread) on a worker
    that carries Dask's nanny settings, and the same without the trim threshold."""
    import dask
    import distributed  # noqa: F401  (registers the distributed config defaults)

    from unlearn_lib.batch.task import NANNY_MALLOC, kernel_env

    nanny = {k: str(v) for k, v in (dask.config.get("distributed.nanny.pre-spawn-environ") or {}).items()}
    dask_env = kernel_env(1, nanny)  # forwarded, so kept: the environment kernels had before the engine dropped it
    plain = kernel_env(1, {k: v for k, v in nanny.items() if k != NANNY_MALLOC})  # what kernels get now
    return {
        f"Dask nanny env ({NANNY_MALLOC}={nanny.get(NANNY_MALLOC, 'unset')})": dask_env,
        f"without {NANNY_MALLOC}": plain,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=2, help="runs of each workload under each environment (default 2)")
    p.add_argument("--workloads", nargs="+", default=list(WORKLOADS), choices=WORKLOADS)
    p.add_argument("--one", choices=WORKLOADS, help=argparse.SUPPRESS)  # internal: run one workload, print its seconds
    args = p.parse_args(argv)
    if args.one:
        print(json.dumps({"seconds": run_workload(args.one)}))
        return 0
    if args.repeats < 1:
        p.error(f"--repeats must be >= 1, got {args.repeats}")
    envs = environments()
    print(f"{'workload':<11} {'environment':<48} seconds (each run)")
    for name in args.workloads:
        times: dict[str, list[float]] = {label: [] for label in envs}
        for _ in range(args.repeats):
            for label, env in envs.items():  # alternate, so drifting load hits both alike
                out = subprocess.run([sys.executable, __file__, "--one", name], env=env, capture_output=True, text=True, check=True)
                times[label].append(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])
        for label, ts in times.items():
            print(f"{name:<11} {label:<48} {min(ts):7.2f} ({', '.join(f'{t:.2f}' for t in ts)})")
        slow, fast = (min(ts) for ts in times.values())
        print(f"{name:<11} {'ratio (best of each)':<48} {slow / fast:7.2f}x slower with the nanny's threshold")
    return 0


if __name__ == "__main__":
    sys.exit(main())
