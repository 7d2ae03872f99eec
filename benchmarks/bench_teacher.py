"""SCRUB with the frozen teacher's logits computed once per example against a teacher forward pass every
step, in one run (issue #35).

    UNLEARN_PROGRESS=0 python benchmarks/bench_teacher.py [--repeats 3] [--kind class] [--preset small]
        [--report benchmarks/results/teacher_cache.md]

Both settings unlearn the same original on the same split of the embedded MNIST with the same batches
(``cache_teacher`` is the only difference), alternating so that machine load falls on both alike. It
reports SCRUB's seconds per epoch for each, their ratio, and how far the results are apart: the largest
absolute difference in forget / retain / test accuracy and in the unlearned models' test logits. The
teacher's numbers are the same up to float rounding (a batch of 512 against the training batch): the
report says whether the two runs agreed bit for bit. Timings depend on the machine and its load: compare
ratios within one run only.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

from unlearn_lib import unlearn
from unlearn_lib.data import load_embedded_mnist, make_forget_split, stratified_partition
from unlearn_lib.studies.classifiers import ClassifierExperiment
from unlearn_lib.tasks import ClassificationTask


def accuracy(model: torch.nn.Module, data, device: torch.device) -> float:
    model.eval()
    with torch.no_grad():
        return float((model(data.x.to(device)).argmax(1).cpu() == data.y).float().mean())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--kind", choices=["class", "selective", "random"], default="class")
    p.add_argument("--preset", default="small", help="SCRUB's preset (the authors' small-scale setting by default)")
    p.add_argument("--epochs", type=int, default=None, help="SCRUB epochs (default: the preset's)")
    p.add_argument("--train-size", type=int, default=4000)
    p.add_argument("--report", type=Path, default=None, help="write the result as markdown here")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be >= 1")
    torch.set_num_threads(1)
    train, test = load_embedded_mnist(seed=0)
    if args.train_size < len(train):
        train = train.subset(stratified_partition(train.labels, args.train_size, 0)[0])
    kw = {"class": {"forget_class": 3}, "selective": {"forget_class": 3, "n_forget": 100}, "random": {"fraction": 0.1}}[args.kind]
    split = make_forget_split(train.labels, args.kind, seed=0, **kw)
    exp, _ = ClassifierExperiment.prepare(
        train, test, split, ClassificationTask(10), train_config={"epochs": 15}, seed=0, device="cpu", svc_mia=False
    )
    ds = exp.datasets()
    config = {"preset": args.preset, **({"epochs": args.epochs} if args.epochs else {})}
    seconds: dict[bool, list[float]] = {False: [], True: []}
    models: dict[bool, torch.nn.Module] = {}
    epochs = 0
    for _ in range(args.repeats):
        for cached in (False, True):
            start = time.perf_counter()
            res = unlearn(
                "scrub",
                exp.original,
                retain=ds["retain"],
                forget=ds["forget"],
                task=exp.task,
                config={**config, "cache_teacher": cached},
                device="cpu",
                seed=0,
            )
            seconds[cached].append(time.perf_counter() - start)
            models[cached] = res.model
            epochs = int(res.config["epochs"])
    per_epoch = {k: statistics.median(v) / epochs for k, v in seconds.items()}
    ratio = per_epoch[False] / per_epoch[True]
    dev = torch.device("cpu")
    acc = {k: {name: accuracy(m, ds[name], dev) for name in ("forget", "retain", "test")} for k, m in models.items()}
    with torch.no_grad():
        logit_diff = float((models[False](test.x) - models[True](test.x)).abs().max())
    acc_diff = max(abs(acc[False][n] - acc[True][n]) for n in acc[False])
    lines = [
        f"# SCRUB: teacher logits cached against a teacher forward pass per step ({args.kind} forgetting, preset {args.preset})",
        "",
        f"Embedded MNIST, {len(train)} training images, small CNN, one torch thread, {epochs} SCRUB epochs, "
        f"median of {args.repeats} alternating runs each. Command: `UNLEARN_PROGRESS=0 python benchmarks/bench_teacher.py "
        f"--repeats {args.repeats} --kind {args.kind} --preset {args.preset}`.",
        "",
        "| teacher | s per epoch | runs (s) | forget acc | retain acc | test acc |",
        "|---|---|---|---|---|---|",
    ]
    for cached, name in ((False, "forward pass every step"), (True, "logits cached once")):
        runs = ", ".join(f"{s:.2f}" for s in seconds[cached])
        a = acc[cached]
        lines.append(f"| {name} | {per_epoch[cached]:.3f} | {runs} | {a['forget']:.4f} | {a['retain']:.4f} | {a['test']:.4f} |")
    lines += [
        "",
        f"**Speed-up per epoch: {ratio:.2f}x.** Largest accuracy difference between the two: {acc_diff:.4f}; "
        f"largest absolute difference of the unlearned models' test logits: {logit_diff:.2e}"
        + (
            " (bit for bit the same results)."
            if logit_diff == 0 and acc_diff == 0
            else " (the cached teacher is computed in batches of 512, the per-step one in the training batch: float rounding)."
        ),
    ]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
