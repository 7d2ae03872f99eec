"""Forget requests with something of their own to forget, for notebook 03.

Every simulated subject is a warp of one template, so a segmenter that generalises has nothing
subject-specific to forget. :class:`DistinctivePlan` says which subjects :mod:`unlearn_lib.data.distinctive`
gives enlarged ventricles or white-matter lesions and which subjects become a site of their own;
:func:`plant_distinctive` applies it to the simulated cohort (never to real data, whose distinctiveness
is its own). A forget request is a list of subject ids or a site's name (:func:`resolve_requests`), and
each carries its design label (:func:`request_label`) in the rows' ``group`` column
(:func:`request_group`), so every table says which request was built to carry a signal.

:func:`signal_floor_table` reads the saved rows back and says, per distinctive request, whether retrain's
Dice on the forgotten subjects falls far enough below the original's to be a signal (the signal floor).

Part of :mod:`unlearn_lib.studies.segmentation` (the study's modules in one package, none over 500 lines).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import pandas as pd

from ...data import distinctive as D
from ...data.cohort import LABEL_NAMES, Cohort, Scanner
from ...data.datasets import ArrayDataset
from ...data.registry import DataBundle
from ...registry import closest
from ...verdict import paired_difference
from .tables import ci_text, per_seed

__all__ = [
    "FLOOR_GAP",
    "FLOOR_SPREAD",
    "MIN_TRAINING_SEEDS",
    "SIMULATED",
    "TYPICAL",
    "UNPLANTED",
    "DistinctivePlan",
    "LesionsPlan",
    "SitePlan",
    "VentriclesPlan",
    "design_frames",
    "design_of_group",
    "design_table",
    "plant_distinctive",
    "request_group",
    "request_label",
    "resolve_requests",
    "signal_floor_table",
]

#: The one dataset planting is for (real data have their own anatomy and sites: use their metadata).
SIMULATED = "mni152-cohort"
#: The name :meth:`Cohort.to_dataset` gives the simulated cohort's training set.
_SIMULATED_SETS = (SIMULATED, "mni152_cohort")
#: The signal floor: retrain's Dice on the forgotten subjects at least this far below the original's ...
FLOOR_GAP = 0.05
#: ... and at least this many times the spread of retrain's held-out Dice across training seeds ...
FLOOR_SPREAD = 3.0
#: ... measured over at least this many training seeds (fewer: the floor is unverified).
MIN_TRAINING_SEEDS = 3
TYPICAL = "typical"
#: The label of a request on real data: nothing was planted, yet its subjects may carry their own signal.
UNPLANTED = "unplanted"
UNVERIFIED = f"unverified (needs ≥ {MIN_TRAINING_SEEDS} training seeds)"


def _default(fn: Callable[..., Any], name: str) -> Any:
    """The default of ``fn``'s parameter ``name``: the planting functions declare them once."""
    return inspect.signature(fn).parameters[name].default


# --- the plan ---------------------------------------------------------------------------------------


def _subjects(value: Any, where: str) -> tuple[int, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ValueError(f"{where} must be a non-empty list of subject ids, got {value!r}")
    if not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value):
        raise ValueError(f"{where} must hold subject ids (ints >= 0), got {value!r}")
    twice = sorted({s for s in value if list(value).count(s) > 1})
    if twice:
        raise ValueError(f"{where} repeats {twice}")
    return tuple(value)


def _section(cls: type, values: Any, where: str) -> dict[str, Any]:
    """``values`` as ``cls``'s keyword arguments: a dict whose keys are its fields (an unknown key is named
    by its full path, ``distinctive.ventricles.factr``), with the required ones present."""
    valid = [f.name for f in fields(cls)]
    if not isinstance(values, Mapping):
        raise ValueError(f"{where} must be a dict with keys {valid}, got {values!r}")
    unknown = sorted(set(values) - set(valid), key=str)
    if unknown:
        raise ValueError(f"{where}.{unknown[0]} is not a setting{closest(unknown[0], valid)}; valid keys of {where}: {valid}")
    missing = [f.name for f in fields(cls) if f.default is dataclasses.MISSING and f.name not in values]
    if missing:
        raise ValueError(f"{where}.{missing[0]} is missing; {where} needs {missing}")
    return dict(values)


@dataclass(frozen=True)
class VentriclesPlan:
    """Subjects whose ventricles grow to ``factor`` times the largest CSF volume of the other subjects as
    simulated (each one against the cohort before planting, so several do not compound)."""

    subjects: tuple[int, ...]
    factor: float = _default(D.enlarge_ventricles, "factor")

    @classmethod
    def from_dict(cls, values: Any, where: str) -> VentriclesPlan:
        v = _section(cls, values, where)
        return cls(_subjects(v["subjects"], f"{where}.subjects"), D.check_setting("factor", v.get("factor", cls.factor), f"{where}.factor"))


@dataclass(frozen=True)
class LesionsPlan:
    """Subjects given T1-dark white-matter lesions (``load`` of their WM, ``intensity`` 0 CSF-like, 1 GM-like,
    ``radius`` the smallest and largest lesion radius as fractions of the volume's edge)."""

    subjects: tuple[int, ...]
    load: float = _default(D.add_wm_lesions, "load")
    intensity: float = _default(D.add_wm_lesions, "intensity")
    radius: tuple[float, float] = _default(D.add_wm_lesions, "radius")

    @classmethod
    def from_dict(cls, values: Any, where: str) -> LesionsPlan:
        v = _section(cls, values, where)
        return cls(
            _subjects(v["subjects"], f"{where}.subjects"),
            D.check_setting("load", v.get("load", cls.load), f"{where}.load"),
            D.check_setting("intensity", v.get("intensity", cls.intensity), f"{where}.intensity"),
            D.check_radius(v.get("radius", cls.radius), f"{where}.radius"),
        )


@dataclass(frozen=True)
class SitePlan:
    """Subjects re-acquired as site ``name`` under a protocol no other site shares (contrast, coil, slices)."""

    name: str
    subjects: tuple[int, ...]
    gamma: float = D.SITE_SCANNER.gamma
    noise: float = D.SITE_SCANNER.noise
    bias: float = D.SITE_SCANNER.bias
    slice_thickness: int = _default(D.plant_site, "slice_thickness")
    axis: int = _default(D.plant_site, "axis")

    @classmethod
    def from_dict(cls, values: Any, where: str) -> SitePlan:
        v = _section(cls, values, where)
        name = v["name"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"{where}.name must be a non-empty site name, got {name!r}")
        # slice_thickness <= edge // 2 is checked on the data
        ints = {key: D.check_setting(key, v.get(key, getattr(cls, key)), f"{where}.{key}") for key in ("slice_thickness", "axis")}
        return cls(
            name,
            _subjects(v["subjects"], f"{where}.subjects"),
            D.check_setting("gamma", v.get("gamma", cls.gamma), f"{where}.gamma"),
            D.check_setting("noise", v.get("noise", cls.noise), f"{where}.noise"),
            D.check_setting("bias", v.get("bias", cls.bias), f"{where}.bias"),
            **ints,
        )


_PARTS: dict[str, type] = {"ventricles": VentriclesPlan, "lesions": LesionsPlan, "site": SitePlan}


@dataclass(frozen=True)
class DistinctivePlan:
    """What notebook 03 plants into the simulated cohort; each part is optional (an empty plan plants nothing)."""

    ventricles: VentriclesPlan | None = None
    lesions: LesionsPlan | None = None
    site: SitePlan | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None, where: str = "distinctive") -> DistinctivePlan:
        """From the notebook's ``distinctive`` parameter (None or ``{}``: nothing planted).

        Raises:
            ValueError: an unknown key or a bad value, named by its path (``distinctive.site.gamma``).
        """
        if values is None:
            return cls()
        if not isinstance(values, Mapping):
            raise ValueError(f"{where} must be None or a dict with keys {list(_PARTS)}, got {values!r}")
        unknown = sorted(set(values) - set(_PARTS), key=str)
        if unknown:
            raise ValueError(f"{where}.{unknown[0]} is not a kind of planting{closest(unknown[0], _PARTS)}; valid: {list(_PARTS)}")
        return cls(**{k: None if v is None else _PARTS[k].from_dict(v, f"{where}.{k}") for k, v in values.items()})

    @property
    def empty(self) -> bool:
        return self.ventricles is None and self.lesions is None and self.site is None

    def planted(self) -> dict[str, tuple[int, ...]]:
        """``{"ventricles": subjects, ...}`` for each part planted."""
        return {k: getattr(self, k).subjects for k in _PARTS if getattr(self, k) is not None}

    def site_subjects(self, request: list[int] | str, where: str) -> list[int]:
        """A request's subjects before any data is loaded: a site's name is the planted site's subjects."""
        if not isinstance(request, str):
            return list(request)
        if self.site is None or request != self.site.name:
            planted = f"the planted site is {self.site.name!r}" if self.site else "distinctive plants no site"
            raise ValueError(f"{where} names site {request!r}, which is not planted ({planted}): set distinctive.site")
        return list(self.site.subjects)


# --- planting and requests --------------------------------------------------------------------------


def _as_cohort(data: ArrayDataset, label_names: Sequence[str] | None = None) -> Cohort:
    """``data`` as a :class:`Cohort`; of several channels only the first (T1 in MRBrainS18) is described."""
    return Cohort(data.x[:, :1], data.y, {k: np.asarray(v) for k, v in data.meta.items()}, tuple(label_names or LABEL_NAMES))


def _refuse_real(name: str) -> None:
    if name not in _SIMULATED_SETS:
        raise ValueError(
            f"distinctive: planting is for the simulated cohort ({SIMULATED!r}), not {name!r}: real data carry their own "
            "anatomy and sites (use their metadata); set distinctive to None"
        )


def _enlarge_each(cohort: Cohort, plan: VentriclesPlan, seed: int) -> Cohort:
    """Each subject's ventricles enlarged against the cohort *before* any was: enlarging one after another
    would measure the second against the first's enlarged ventricles (``factor`` compounding)."""
    out = D.enlarge_ventricles(cohort, plan.subjects[0], plan.factor, seed=seed)
    ids = np.asarray(cohort.meta["subject"]).astype(int).tolist()
    designs = out.meta[D.DESIGN_KEY].astype(object)  # a fixed-width str array would cut a longer label
    for s in plan.subjects[1:]:
        one, row = D.enlarge_ventricles(cohort, s, plan.factor, seed=seed), ids.index(s)
        out.images[row], out.labels[row], designs[row] = one.images[row], one.labels[row], one.meta[D.DESIGN_KEY][row]
    out.meta[D.DESIGN_KEY] = designs.astype(str)
    return out


def plant_distinctive(data: Cohort | ArrayDataset | DataBundle, plan: DistinctivePlan, seed: int = 0) -> Any:
    """``data`` with ``plan`` planted (ventricles, then lesions, then the site), as the same type.

    Raises:
        ValueError: ``data`` is not the simulated cohort (a real dataset such as ``mrbrains18``), or a plan
            its subjects cannot take; the message names the plan's part (``distinctive.site``).
    """
    if not isinstance(plan, DistinctivePlan):
        raise ValueError(f"plan must be a DistinctivePlan (DistinctivePlan.from_dict), got {type(plan).__name__}")
    if isinstance(data, DataBundle):
        _refuse_real(data.name)
        if plan.empty:
            return data
        train = plant_distinctive(_as_cohort(data.train, data.class_names), plan, seed).to_dataset(data.train.name)
        return dataclasses.replace(data, train=train, meta={**data.meta, "distinctive": plan.planted()})
    if isinstance(data, ArrayDataset):
        _refuse_real(data.name)
        return data if plan.empty else plant_distinctive(_as_cohort(data), plan, seed).to_dataset(data.name)
    if not isinstance(data, Cohort):
        raise ValueError(f"data must be the simulated Cohort, its ArrayDataset or DataBundle, got {type(data).__name__}")
    cohort, where = data, "distinctive"
    try:
        if plan.ventricles is not None:
            where = "distinctive.ventricles"
            cohort = _enlarge_each(cohort, plan.ventricles, seed)
        if plan.lesions is not None:
            where = "distinctive.lesions"
            for s in plan.lesions.subjects:
                cohort = D.add_wm_lesions(cohort, s, plan.lesions.load, plan.lesions.intensity, seed=seed, radius=plan.lesions.radius)
        if plan.site is not None:
            where, p = "distinctive.site", plan.site
            scanner = Scanner(gamma=p.gamma, noise=p.noise, bias=p.bias)
            cohort = D.plant_site(cohort, list(p.subjects), scanner, p.slice_thickness, p.axis, name=p.name, seed=seed)
    except ValueError as err:
        raise ValueError(f"{where}: {err}") from None
    return cohort


def resolve_requests(requests: Sequence[list[int] | str], data: ArrayDataset | Cohort) -> list[list[int]]:
    """Each forget request as subject ids: a list stays as it is, a site's name becomes its subjects."""
    out = []
    for i, request in enumerate(requests):
        if isinstance(request, str):
            try:
                out.append(D.site_request(data if isinstance(data, Cohort) else _as_cohort(data), request))
            except ValueError as err:
                raise ValueError(f"forget_requests[{i}]: {err}") from None
        else:
            out.append([int(s) for s in request])
    return out


def _column(data: ArrayDataset | Cohort, key: str, fill: str) -> dict[int, str]:
    meta = data.meta
    ids = np.asarray(meta["subject"]).astype(int).tolist()
    values = np.asarray(meta[key]).astype(str).tolist() if key in meta else [fill] * len(ids)
    return dict(zip(ids, values))


def request_label(subjects: Sequence[int], data: ArrayDataset | Cohort) -> str:
    """What a request was built to carry, from the planted metadata: ``"ventricles"``, ``"lesions"``,
    ``"site X"`` (every subject of site X), ``"site X (2 of 3)"`` (part of it), joined by ``+``; ``"typical"``
    when none of its subjects had anything planted; ``"unplanted"`` on real data (their own signal, unknown)."""
    if D.DESIGN_KEY not in data.meta and getattr(data, "name", SIMULATED) not in _SIMULATED_SETS:
        return UNPLANTED
    designs, sites = _column(data, D.DESIGN_KEY, TYPICAL), _column(data, D.SITE_KEY, "")
    parts: list[str] = []
    for s in subjects:
        for part in designs[int(s)].split("+"):
            if part == "site":
                site = sites[int(s)]
                members = [k for k, v in sites.items() if v == site]
                mine = [k for k in subjects if sites[int(k)] == site]
                part = f"site {site}" + ("" if len(mine) == len(members) else f" ({len(mine)} of {len(members)})")
            if part != TYPICAL and part not in parts:
                parts.append(part)
    return "+".join(parts) or TYPICAL


def request_group(subjects: Sequence[int], label: str) -> str:
    """The ``group`` every row of a request carries: its design label, then its subjects."""
    return f"{label} ({'subject' if len(subjects) == 1 else 'subjects'} {'+'.join(map(str, subjects))})"


def design_of_group(group: Any) -> str | None:
    """The design label inside a ``group`` written by :func:`request_group` (None for another form)."""
    text = str(group)
    return text.rsplit(" (subject", 1)[0] if " (subject" in text else None


def design_frames(data: ArrayDataset | Cohort, label_names: Sequence[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """How far each subject and each site sits outside the cohort, before any model: the columns of
    :func:`~unlearn_lib.data.distinctive.describe_subjects` and ``describe_sites`` a reader needs."""
    cohort = data if isinstance(data, Cohort) else _as_cohort(data, label_names)
    try:
        subjects = D.describe_subjects(cohort)
    except ValueError as err:  # real data without CSF/GM/WM labels: nothing to measure, and say why
        empty = pd.DataFrame(index=pd.Index(np.asarray(data.meta["subject"]).astype(int), name="subject"))
        empty.attrs["why"] = str(err)
        return empty, pd.DataFrame()
    keep = [c for c in ("sex", "age", D.SITE_KEY, D.DESIGN_KEY, "frac_CSF", "anatomy_score", "appearance_score") if c in subjects]
    return subjects[[*keep, "distinctiveness", "top_descriptor"]], D.describe_sites(cohort)[["subjects", "distinctiveness"]]


def design_table(data: ArrayDataset | Cohort, requests: Sequence[Sequence[int]], label_names: Sequence[str] | None = None) -> pd.DataFrame:
    """Per request: its label, subjects and how far they sit outside the cohort (``distinctiveness``, the
    largest |z| of :func:`~unlearn_lib.data.distinctive.describe_subjects`, or of ``describe_sites`` for
    a whole-site request), with the descriptor that gave it."""
    subjects, sites = design_frames(data, label_names)
    rows = []
    for request in requests:
        label = request_label(request, data)
        row: dict[str, Any] = {
            "request": request_group(request, label),
            "design": label,
            "distinctiveness": math.nan,
            "top descriptor": "–",
        }
        if "distinctiveness" in subjects:
            mine = subjects.loc[list(request)]
            row["distinctiveness"] = float(mine.distinctiveness.max())
            row["top descriptor"] = str(mine.top_descriptor.loc[mine.distinctiveness.idxmax()])
            site = set(mine[D.SITE_KEY])
            if label.startswith("site ") and len(site) == 1 and sorted(sites.loc[site.pop(), "subjects"]) == sorted(request):
                row["distinctiveness"], row["top descriptor"] = (
                    float(sites.loc[mine[D.SITE_KEY].iloc[0], "distinctiveness"]),
                    "site protocol",
                )
        rows.append(row)
    out = pd.DataFrame(rows).set_index("request")
    out.attrs["why"] = subjects.attrs.get("why")  # set when the data could not be described
    return out


# --- the signal floor -------------------------------------------------------------------------------


def signal_floor_table(df: pd.DataFrame) -> pd.DataFrame:
    """Per request (``group``): original minus retrain Dice on the forgotten subjects (``gap``, mean over
    training seeds), the spread of retrain's held-out Dice across seeds, and the floor: a distinctive
    request needs ``gap >= FLOOR_GAP`` and ``gap >= FLOOR_SPREAD x spread`` over at least
    ``MIN_TRAINING_SEEDS`` seeds (fewer: unverified); a typical request has no floor to meet, since a model
    that generalises should not lose Dice on it."""
    rows = []
    for g in dict.fromkeys(df.group.dropna()) if "group" in df else []:
        d = df[df.group == g]
        orig, ret, held = per_seed(d, "original", "forget", "dice", 0), per_seed(d, "retrain", "forget"), per_seed(d, "retrain", "heldout")
        seeds = sorted(set(orig.index) & set(ret.index))
        gap = float((orig[seeds] - ret[seeds]).mean()) if seeds else math.nan
        spread = float(held[seeds].std(ddof=1)) if len(seeds) > 1 else math.nan
        design = design_of_group(g) or "unlabelled"
        if design == TYPICAL:
            floor = "typical: none (should not lose Dice)"
        elif not seeds:
            floor = "no retrain rows"
        elif len(seeds) < MIN_TRAINING_SEEDS:
            floor = UNVERIFIED
        else:
            floor = "met" if gap >= FLOOR_GAP and gap >= FLOOR_SPREAD * spread else "not met"
        rows.append(
            {
                "request": g,
                "design": design,
                "training seeds": len(seeds),
                "original forget Dice": float(orig[seeds].mean()) if seeds else math.nan,
                "retrain forget Dice": float(ret[seeds].mean()) if seeds else math.nan,
                "gap": gap,
                "gap 95 % CI": ci_text(paired_difference(orig[seeds].to_numpy(), ret[seeds].to_numpy())) if seeds else "–",
                f"gap ≥ {FLOOR_GAP}": bool(gap >= FLOOR_GAP),
                "retrain held-out spread": spread,
                "floor": floor,
            }
        )
    return pd.DataFrame(rows).set_index("request") if rows else pd.DataFrame()
