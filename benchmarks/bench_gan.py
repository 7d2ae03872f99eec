"""Speed-up of ``gan_cascaded`` over ``gan_retrain`` (item and class unlearning), from one run.

    python benchmarks/bench_gan.py [--profile default] [--iterations N] [--width N] [--n-items 64] [--forget-class 7]

Both methods are timed in this process on the same data and device; retraining repeats the original
recipe exactly, so the ratio is the cost of exact unlearning over the cascade's. The recipe is
notebook 05's in ``--profile`` (its quality-stopped original included), ``--iterations`` / ``--width``
override its cap and width. The original GAN and the evaluator come from the on-disk cache (trained
first if absent); their training time is not part of either measurement. Quality metrics of both
methods are printed beside the times.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile

import torch
from bench_gan_quality import notebook_settings  # this directory: notebook 05's parameters under a profile

from unlearn_lib.batch import list_profiles
from unlearn_lib.data import load_cifar10, load_embedded_mnist
from unlearn_lib.report import markdown_table
from unlearn_lib.results import ResultsRecorder, load_metrics
from unlearn_lib.studies.gan import GANExperiment, scenario_table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="default", help=f"whose notebook-05 recipe, of {list_profiles()} or a YAML path (default: default)")
    p.add_argument("--iterations", type=int, default=None, help="the recipe's iteration cap (default: the profile's)")
    p.add_argument("--width", type=int, default=None, help="generator and discriminator width (default: the profile's)")
    p.add_argument("--n-items", type=int, default=64, help="images to unlearn in item unlearning")
    p.add_argument("--forget-class", type=int, default=7, help="class to unlearn in class unlearning")
    p.add_argument(
        "--cascade", type=json.loads, default={}, help="CascadeConfig overrides on the profile's, as JSON, e.g. '{\"rounds\": 3}'"
    )
    p.add_argument("--n-generated", type=int, default=1000)
    p.add_argument("--data-dir", default=None, help="a CIFAR-10 directory (default: the embedded MNIST)")
    p.add_argument("--cache-dir", default=None)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads (1 suits a shared CPU)")
    p.add_argument("--device", default="auto")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.data_dir:
        train, test = load_cifar10(args.data_dir, "train"), load_cifar10(args.data_dir, "test")
    else:
        train, test = load_embedded_mnist(seed=args.seed)
    section = notebook_settings(args.profile)  # notebook 05's parameters as the batch would run it
    recipe = dict(section["recipe"])
    if args.iterations is not None:
        recipe["iterations"] = args.iterations
    if args.width is not None:
        recipe["g_width"] = recipe["d_width"] = args.width
    exp = GANExperiment.prepare(
        train,
        test,
        {**recipe, "seed": args.seed, "device": args.device},
        evaluator_epochs=section["evaluator_epochs"],
        downstream_epochs=section["downstream_epochs"],
        classifier_width=section["classifier_width"],
        n_generated=args.n_generated,
        cache_dir=args.cache_dir,
    )
    rec = ResultsRecorder("bench_gan", "cifar10" if args.data_dir else "mnist-embedded", "dcgan")
    hp = {"gan_cascaded": {**section["cascade"], **args.cascade}}  # the profile's schedule, then the overrides
    exp.for_request(exp.item_request(args.n_items)).run(["gan_retrain", "gan_cascaded"], rec, "item", hparams=hp)
    exp.for_request(exp.class_request(args.forget_class)).run(["gan_retrain", "gan_cascaded"], rec, "class", hparams=hp)
    with tempfile.TemporaryDirectory() as tmp:
        rec.write(tmp, vars(args), exp.device)
        df = load_metrics(tmp)
    print(f"device {exp.device}, threads {torch.get_num_threads()}, recipe {recipe}, cascade {hp['gan_cascaded']}")
    for scenario in ("item", "class"):
        sel = df[(df.scenario == scenario) & (df.metric == "speed_up") & (df.method == "gan_cascaded")]
        print(
            f"\n## {scenario} unlearning: gan_cascaded is {float(sel.value.iloc[0]):.1f}x faster than gan_retrain (study: 185x on MNIST)\n"
        )
        print(markdown_table(scenario_table(df, scenario)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
