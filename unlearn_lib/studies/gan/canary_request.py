"""Canary requests in the GAN experiment: what to plant, what to measure, and whether there is signal.

Why a request of its own: a random training digit carries nothing to forget (the original draws it no
closer than an unseen digit), so item unlearning needs items the original *did* memorise.
:mod:`.canaries` plants them and measures extraction; this module is the glue the experiment and
notebook 05 use:

* :class:`CanaryPlan`, the typed ``canaries`` parameter: duplicate levels, canaries per level, their
  kind, the threshold's quantile and how many samples the extraction rate is read from. It is checked
  before any training.
* :func:`canary_values`, one GAN's extraction rate, control rate, canaries extracted and
  nearest-neighbour ratio per duplicate level (and, for marked canaries, the planted-mark rate), as
  the ``{(split, metric): value}`` rows every GAN metric is recorded as (split ``canary_d<d>``).
* :func:`canary_signal`, the floor a canary request must clear before any method is ranked on it:
  at a level, the original's rate (extraction, or planted mark) is at least ``floor`` times
  retrain's (over the run's seeds), and at least ``floor`` samples' worth when retrain's is 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
import pandas as pd
import torch

from ...data.splits import _check_int
from .canaries import DEFAULT_DUPLICATES, CanarySet, _check_duplicates, _check_kind
from .canary_metrics import canary_nn_ratio, extraction_rates, mark_rates

__all__ = ["CANARY_METRICS", "CANARY_RATES", "CanaryPlan", "canary_level", "canary_signal", "canary_values", "request_canary_signal"]

#: The metrics recorded per level (split ``canary_d<d>``); marked canaries add ``mark_rate``.
CANARY_METRICS: tuple[str, ...] = ("extraction_rate", "control_extraction_rate", "canaries_extracted", "nn_ratio")
#: The canary rates a forgetting signal is read from, and their headers: what a GAN that never saw
#: the canaries draws about never. Extraction (the images, pixel for pixel) and the planted mark.
CANARY_RATES: dict[str, str] = {"extraction_rate": "extraction", "mark_rate": "planted mark"}


@dataclass(frozen=True)
class CanaryPlan:
    """What notebook 05's ``canaries`` parameter plants, and how extraction is read.

    Attributes:
        duplicates: copies planted of each canary, one level per entry (1, 10, 50 by default).
        per_level: canaries per level (each with a matched control that is never planted).
        kind: ``"inverted"`` (far from every digit: a near sample is a copy) or ``"marked"``.
        quantile: the extraction threshold's quantile of held-out-to-train distances (1 %: an unseen
            ordinary digit comes that close to a training digit 1 % of the time).
        n_samples: samples per GAN the rates are read from. At 5,000, one sample is 0.02 %, and a
            level of 4 canaries planted 50 times each (5 % of 4,000 digits) would give ~5 % if copied.
    """

    duplicates: tuple[int, ...] = DEFAULT_DUPLICATES
    per_level: int = 4
    kind: str = "inverted"
    quantile: float = 0.01
    n_samples: int = 5000

    def __post_init__(self) -> None:
        object.__setattr__(self, "duplicates", _check_duplicates(self.duplicates, "canaries.duplicates"))
        _check_int("canaries.per_level", self.per_level, 1)
        _check_int("canaries.n_samples", self.n_samples, 100)
        _check_kind(self.kind, "canaries.kind")
        q = self.quantile
        if not isinstance(q, (int, float)) or isinstance(q, bool) or not 0.0 < q < 1.0:
            raise ValueError(f"canaries.quantile must be a number in (0, 1), e.g. 0.01, got {q!r}")

    @classmethod
    def from_value(cls, value: CanaryPlan | Mapping[str, Any]) -> CanaryPlan:
        """A plan from the notebook parameter (a dict); unknown keys are named, not ignored."""
        if isinstance(value, CanaryPlan):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"canaries must be a dict of {[f.name for f in fields(cls)]}, got {type(value).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"canaries has unknown key(s) {unknown}; known: {sorted(known)}")
        kwargs = dict(value)
        if "duplicates" in kwargs and isinstance(kwargs["duplicates"], list):
            kwargs["duplicates"] = tuple(kwargs["duplicates"])
        return cls(**kwargs)

    @property
    def n_copies(self) -> int:
        """Images the plan adds to the training set (every copy of every canary)."""
        return self.per_level * sum(self.duplicates)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["duplicates"] = list(self.duplicates)
        return out


def canary_level(split: str) -> int | None:
    """The duplicate level of a ``canary_d<d>`` split name, else None."""
    if isinstance(split, str) and split.startswith("canary_d") and split[8:].isdigit():
        return int(split[8:])
    return None


def canary_values(generated: torch.Tensor, canaries: CanarySet, threshold: float) -> dict[tuple[str, str], float]:
    """One GAN's canary metrics per duplicate level, as ``{("canary_d<d>", metric): value}``.

    ``extraction_rate`` is the share of ``generated`` within ``threshold`` of a planted canary of that
    level, ``control_extraction_rate`` the same for the never-planted controls (the null rate),
    ``canaries_extracted`` the share of the level's canaries with at least one such sample, and
    ``nn_ratio`` the mean nearest-sample distance of canaries over that of their controls (below 1:
    drawn closer than their unseen twins). Marked canaries add ``mark_rate``, the share of samples
    carrying the level's corner mark (:func:`~unlearn_lib.studies.gan.canary_metrics.mark_rates`)."""
    rates = extraction_rates(generated, canaries, threshold).set_index("d")
    nn = canary_nn_ratio(generated, canaries).set_index("d")
    out: dict[tuple[str, str], float] = {}
    for d in canaries.duplicates:
        split = f"canary_d{d}"
        r = rates.loc[d]
        out[(split, "extraction_rate")] = float(r["rate_planted"])
        out[(split, "control_extraction_rate")] = float(r["rate_control"])
        out[(split, "canaries_extracted")] = float(r["canaries_hit_planted"]) / float(r["n_canaries"])
        out[(split, "nn_ratio")] = float(nn.loc[d, "nn_ratio"])
    if canaries.kind == "marked":
        for row in mark_rates(generated, canaries).itertuples():
            out[(f"canary_d{row.d}", "mark_rate")] = float(row.mark_rate)
    return out


def canary_signal(df: pd.DataFrame, *, reference: str = "gan_retrain", floor: float = 5.0, n_samples: int | None = None) -> pd.DataFrame:
    """Is there something to forget? Per canary scenario, level and rate (:data:`CANARY_RATES`: the
    extraction rate, and the planted-mark rate where recorded), the original's rate against
    ``reference``'s, mean over the run's seeds, from saved rows.

    A row is *informative* when the original's rate is at least ``floor`` times the reference's, and
    at least ``floor / n_samples`` (``floor`` samples' worth) when the reference's is 0; only then can
    a method's rate be read as forgetting. ``n_samples`` is the samples each rate was read from (the
    plan's); without it a reference at 0 needs only a non-zero original.

    Raises:
        ValueError: no canary rows, or no rows of ``original`` / ``reference``.
    """
    if not isinstance(floor, (int, float)) or isinstance(floor, bool) or not floor > 1:
        raise ValueError(f"floor must be a ratio > 1, e.g. 5, got {floor!r}")
    rows = df[df["metric"].isin(list(CANARY_RATES)) & df["split"].map(lambda s: canary_level(s) is not None)]
    if rows.empty:
        raise ValueError(f"no canary rate rows (split 'canary_d<d>', metric one of {list(CANARY_RATES)}) to read a signal from")
    missing = [m for m in ("original", reference) if m not in set(rows["method"])]
    if missing:
        raise ValueError(f"the canary rows have no {missing} rows: the signal compares the original with {reference}")
    per_sample = 1.0 / n_samples if n_samples else 0.0
    out = []
    for (scenario, split, metric), sel in rows.groupby(["scenario", "split", "metric"], sort=False):
        orig = sel[sel["method"] == "original"].groupby("seed")["value"].mean()
        ref = sel[sel["method"] == reference].groupby("seed")["value"].mean()
        o, r = float(orig.mean()), float(ref.mean())
        bar = floor * max(r, per_sample)
        out.append(
            {
                "scenario": scenario,
                "d": canary_level(split),
                "measure": CANARY_RATES[metric],
                "seeds": len(orig.index.intersection(ref.index)),
                "original rate": o,
                f"{reference} rate": r,
                "ratio": o / r if r > 0 else (np.inf if o > 0 else np.nan),
                "floor": bar,
                "informative": bool(o >= bar and o > 0),
            }
        )
    return pd.DataFrame(out).sort_values(["scenario", "measure", "d"], kind="stable").reset_index(drop=True)


def request_canary_signal(
    df: pd.DataFrame, scenarios: Sequence[str], *, reference: str = "gan_retrain", n_samples: int | None = None
) -> pd.DataFrame | None:
    """:func:`canary_signal` of the run's ``canaries`` request, or None when that request is not among
    ``scenarios`` or left no rows: the one place the summary, the notebook and the verdicts read it from."""
    rows = df[df["scenario"] == "canaries"]
    if "canaries" not in scenarios or rows.empty:
        return None
    return canary_signal(rows, reference=reference, n_samples=n_samples)
