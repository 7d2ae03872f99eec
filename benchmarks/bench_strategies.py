"""Time every unlearning strategy against retraining on one forget split, in one run.

    UNLEARN_PROGRESS=0 python benchmarks/bench_strategies.py [--seed 0] [--methods scrub,salun]
        [--kind class|selective|random] [--train-epochs 15] [--train-size 4000]
        [--hparams '{"scrub": {"epochs": 3}}']

Every method unlearns the same original model on the same split of the embedded MNIST; each line
prints the method's wall time, that time as a ratio of retraining's (measured in this same run), the
speed-up (retrain / method) and the average accuracy gap to the retrained model over forget, retain
and test. Timings depend on the machine and its load: compare ratios within one run only.
"""

from __future__ import annotations

import argparse
import json
import sys

from unlearn_lib.cache import ArtifactCache
from unlearn_lib.data import load_embedded_mnist, make_forget_split, stratified_partition
from unlearn_lib.results import ResultsRecorder
from unlearn_lib.strategies import list_strategies
from unlearn_lib.studies.classifiers import ClassifierExperiment
from unlearn_lib.tasks import ClassificationTask

#: Recipes sized for a CPU (the notebook's default-profile settings; see notebooks/02).
FAST_HPARAMS: dict[str, dict] = {
    "retrain": {"epochs": 15},
    "finetune": {"epochs": 5, "lr": 0.01},
    "neggrad": {"epochs": 1},
    "neggrad_plus": {"epochs": 2, "beta": 0.99},
    "cf_k": {"k": 2, "epochs": 5},
    "eu_k": {"k": 2, "epochs": 5},
    "bad_teacher": {},
    "scrub": {"preset": "small", "epochs": 2, "msteps": 1, "batch_size": 128},
    "scrub_r": {"preset": "small", "epochs": 3, "msteps": 2, "batch_size": 128},
    "random_label": {"epochs": 2},
    "salun": {"epochs": 2},
    "l1_sparse": {"epochs": 5},
    "ssd": {},
    "fisher": {"max_examples": 1000},
}


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--methods", default="all", help="comma-separated strategy names (retrain is always run), or 'all'")
    p.add_argument("--kind", choices=["class", "selective", "random"], default="class")
    p.add_argument("--train-epochs", type=int, default=15, help="epochs of the original and of retraining")
    p.add_argument("--train-size", type=int, default=4000, help="training images used (stratified subsample of the 4,000)")
    p.add_argument("--hparams", default="{}", help="JSON overrides per method, merged over the CPU-sized recipes")
    p.add_argument("--device", default="auto")
    args = p.parse_args(argv)
    known = list_strategies()
    methods = known if args.methods == "all" else [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = sorted(set(methods) - set(known))
    if unknown:
        p.error(f"unknown methods {unknown}; known: {known}")
    if args.train_epochs < 1:
        p.error("--train-epochs must be >= 1")
    if args.train_size < 100:
        p.error("--train-size must be >= 100")
    args.methods = ["retrain"] + [m for m in methods if m != "retrain"]
    try:
        overrides = json.loads(args.hparams)
    except json.JSONDecodeError as e:
        p.error(f"--hparams is not valid JSON: {e}")
    args.hparams = {m: {**FAST_HPARAMS.get(m, {}), **overrides.get(m, {})} for m in args.methods}
    args.hparams["retrain"]["epochs"] = args.train_epochs
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    train, test = load_embedded_mnist(seed=args.seed)
    if args.train_size < len(train):
        train = train.subset(stratified_partition(train.labels, args.train_size, args.seed)[0])
    n_sel = min(100, int((train.labels == 3).sum()) // 2)
    kw = {"class": {"forget_class": 3}, "selective": {"forget_class": 3, "n_forget": n_sel}, "random": {"fraction": 0.1}}[args.kind]
    split = make_forget_split(train.labels, args.kind, seed=args.seed, **kw)
    exp, t_orig = ClassifierExperiment.prepare(
        train,
        test,
        split,
        ClassificationTask(10),
        train_config={"epochs": args.train_epochs},
        seed=args.seed,
        device=args.device,
        svc_mia=False,
    )
    exp.cache = ArtifactCache(enabled=False)  # the original may come from the cache, retrain is timed in this run
    rec = ResultsRecorder("bench_strategies", "mnist-embedded", "small_cnn")
    res = exp.run(args.methods, rec, args.kind, hparams=args.hparams, original_seconds=t_orig)
    retrain_s = res["retrain"][("all", "seconds")]
    print(f"{split.description}; {exp.original_info.describe('original')}; retrain {retrain_s:.1f}s (seed {args.seed})")
    print(f"{'method':<14}{'seconds':>9}{'x retrain':>11}{'speed-up':>10}{'avg gap':>9}{'forget acc':>12}")
    for m in args.methods:
        v = res[m]
        s = v[("all", "seconds")]
        print(
            f"{m:<14}{s:>9.2f}{s / retrain_s:>11.3f}{v[('all', 'speed_up')]:>10.1f}{v[('average', 'gap_to_retrain')]:>9.3f}{v[('forget', 'accuracy')]:>12.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
