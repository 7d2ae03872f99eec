"""Notebook 03's distinctive requests (issue #33, item 1): the plan, planting, site requests, the design
label in every row, and the signal floor read back from rows.

Behaviour, not implementation: a bad plan or parameter is refused naming its key path before any data
or training, real data are never planted into, a site's name resolves to exactly its subjects, and a
planted subject stands out from the typical ones on a tiny cohort. No training (rows are built by hand).
"""

from __future__ import annotations

import ast
import functools
from typing import Any

import numpy as np
import pandas as pd
import pytest
import torch

from unlearn_lib.batch.plan import REPO_ROOT, inspect_parameters, part_label
from unlearn_lib.data import ArrayDataset, load_dataset
from unlearn_lib.data import distinctive as D
from unlearn_lib.data.registry import DataBundle
from unlearn_lib.params import check_parameters
from unlearn_lib.studies.segmentation import memorisation_table
from unlearn_lib.studies.segmentation.design import (
    FLOOR_GAP,
    MIN_TRAINING_SEEDS,
    UNPLANTED,
    DistinctivePlan,
    design_of_group,
    design_table,
    plant_distinctive,
    request_group,
    request_label,
    resolve_requests,
    signal_floor_table,
)

STEM = "03_segmentation_unlearning"
PLAN = {"ventricles": {"subjects": [0]}, "lesions": {"subjects": [1]}, "site": {"name": "X", "subjects": [2, 3]}}


@pytest.fixture(scope="module")
def bundle() -> DataBundle:
    """The simulated cohort at the notebook's nbval size (6 subjects, 16^3)."""
    return load_dataset("mni152-cohort", n_subjects=6, size=16, seed=0)


@pytest.fixture(scope="module")
def planted(bundle) -> DataBundle:
    return plant_distinctive(bundle, DistinctivePlan.from_dict(PLAN), seed=0)


@functools.cache
def _defaults() -> dict[str, Any]:
    cell = inspect_parameters(REPO_ROOT / "notebooks" / f"{STEM}.ipynb")
    values = {k: ast.literal_eval(p["default"]) for k, p in cell.items()}
    return {k: v for k, v in values.items() if k not in ("output_dir", "figures_dir", "run_id")}


def _params(**changes: Any) -> Any:
    return check_parameters(STEM, {**_defaults(), **changes})


# -- the plan ---------------------------------------------------------------------------------------


def test_plan_defaults_are_the_planting_functions_own():
    plan = DistinctivePlan.from_dict(PLAN)
    assert plan.ventricles.factor == 2.0 and plan.lesions.load == 0.2 and plan.lesions.intensity == 0.5
    assert plan.lesions.radius == D.LESION_RADIUS
    assert DistinctivePlan.from_dict({"lesions": {"subjects": [1], "radius": [0.06, 0.14]}}).lesions.radius == (0.06, 0.14)
    assert (plan.site.gamma, plan.site.noise, plan.site.bias) == (D.SITE_SCANNER.gamma, D.SITE_SCANNER.noise, D.SITE_SCANNER.bias)
    assert plan.planted() == {"ventricles": (0,), "lesions": (1,), "site": (2, 3)}
    assert DistinctivePlan.from_dict(None).empty and DistinctivePlan.from_dict({}).empty


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ({"ventricles": {"subjects": [0], "factr": 2.0}}, r"distinctive\.ventricles\.factr .*'factor'"),
        ({"lesion": {"subjects": [1]}}, r"distinctive\.lesion .*'lesions'"),
        ({"ventricles": {"subjects": [0], "factor": 5.0}}, r"distinctive\.ventricles\.factor"),
        ({"ventricles": {"subjects": [0], "factor": 1.0}}, r"distinctive\.ventricles\.factor"),
        ({"lesions": {"subjects": [1], "load": 0.9}}, r"distinctive\.lesions\.load"),
        ({"lesions": {"subjects": [1], "intensity": "dark"}}, r"distinctive\.lesions\.intensity"),
        ({"lesions": {"subjects": [1], "radius": 0.1}}, r"distinctive\.lesions\.radius must be a pair"),
        ({"lesions": {"subjects": [1], "radius": [0.14, 0.06]}}, r"distinctive\.lesions\.radius .*smallest <= largest"),
        ({"lesions": {"subjects": [1], "radius": [0.06, 0.9]}}, r"distinctive\.lesions\.radius\[1\]"),
        ({"lesions": {"subjects": []}}, r"distinctive\.lesions\.subjects"),
        ({"lesions": {"subjects": [1, 1]}}, r"distinctive\.lesions\.subjects repeats"),
        ({"lesions": {"subjects": [True]}}, r"distinctive\.lesions\.subjects"),
        ({"site": {"subjects": [2]}}, r"distinctive\.site\.name is missing"),
        ({"site": {"name": "", "subjects": [2]}}, r"distinctive\.site\.name"),
        ({"site": {"name": "X", "subjects": [2], "axis": 3}}, r"distinctive\.site\.axis"),
        ({"site": {"name": "X", "subjects": [2], "gamma": 9}}, r"distinctive\.site\.gamma"),
        ({"site": ["X"]}, r"distinctive\.site must be a dict"),
        ("X", r"distinctive must be None or a dict"),
    ],
)
def test_a_bad_plan_is_refused_naming_its_key_path(values, match):
    with pytest.raises(ValueError, match=match):
        DistinctivePlan.from_dict(values)


def test_the_plans_ranges_are_the_planting_functions_ranges(bundle):
    """The plan checks ranges before any data; the library refuses the same values on the data."""
    cohort = D.Cohort(bundle.train.x, bundle.train.y, dict(bundle.train.meta))
    for bad in (1.0, 4.5):
        with pytest.raises(ValueError, match="factor"):
            D.enlarge_ventricles(cohort, 0, bad)
    for bad in (0.0, 0.6):
        with pytest.raises(ValueError, match="load"):
            D.add_wm_lesions(cohort, 1, bad)


#: Each planting setting: the plan section it sits in, and a planting call that takes it.
_SETTING_CALLS = {
    "factor": ("ventricles", lambda c, v: D.enlarge_ventricles(c, 0, factor=v)),
    "load": ("lesions", lambda c, v: D.add_wm_lesions(c, 1, load=v)),
    "intensity": ("lesions", lambda c, v: D.add_wm_lesions(c, 1, intensity=v)),
    "gamma": ("site", lambda c, v: D.plant_site(c, [2], D.Scanner(gamma=v, noise=0.03, bias=0.3))),
    "noise": ("site", lambda c, v: D.plant_site(c, [2], D.Scanner(gamma=0.5, noise=v, bias=0.3))),
    "bias": ("site", lambda c, v: D.plant_site(c, [2], D.Scanner(gamma=0.5, noise=0.03, bias=v))),
    "axis": ("site", lambda c, v: D.plant_site(c, [2], axis=v)),
    "slice_thickness": ("site", lambda c, v: D.plant_site(c, [2], slice_thickness=v)),
}


@pytest.mark.parametrize("key", sorted(D.SETTINGS))
def test_every_setting_has_one_range_that_the_plan_and_the_planting_both_enforce(key, bundle):
    """A range is declared once (``D.SETTINGS``): a value just past either end is refused by the plan,
    named by its key path before any data, and by the planting function on the data."""
    section, call = _SETTING_CALLS[key]
    low, high, low_open = D.SETTINGS[key]
    step = 1 if key in ("axis", "slice_thickness") else 0.01
    outside = [low if low_open else low - step] + ([] if high is None else [high + step])
    cohort = D.Cohort(bundle.train.x, bundle.train.y, dict(bundle.train.meta))
    base = {"ventricles": {"subjects": [0]}, "lesions": {"subjects": [1]}, "site": {"name": "X", "subjects": [2]}}[section]
    for bad in outside:
        with pytest.raises(ValueError, match=rf"distinctive\.{section}\.{key} must be"):
            DistinctivePlan.from_dict({section: {**base, key: bad}})
        with pytest.raises(ValueError, match=key):
            call(cohort, bad)
    inside = (low + step if low_open else low) if high is None else high
    assert getattr(getattr(DistinctivePlan.from_dict({section: {**base, key: inside}}), section), key) == inside


# -- planting and requests --------------------------------------------------------------------------


def test_planting_refuses_real_data(bundle):
    real = DataBundle(bundle.train, None, name="mrbrains18", modality="segmentation", class_names=bundle.class_names)
    with pytest.raises(ValueError, match=r"distinctive: planting is for the simulated cohort.*'mrbrains18'"):
        plant_distinctive(real, DistinctivePlan.from_dict(PLAN))
    other = ArrayDataset(bundle.train.x, bundle.train.y, dict(bundle.train.meta), name="mrbrains18", num_classes=4)
    with pytest.raises(ValueError, match="simulated cohort"):
        plant_distinctive(other, DistinctivePlan.from_dict(PLAN))


def test_planting_keeps_the_input_and_names_the_part_that_cannot_be_planted(bundle, planted):
    before = bundle.train.x.clone()
    assert torch.equal(bundle.train.x, before) and "design" not in bundle.train.meta
    assert planted.train.meta["design"].tolist() == ["ventricles", "lesions", "site", "site", "typical", "typical"]
    assert torch.equal(planted.train.x[4:], bundle.train.x[4:]) and not torch.equal(planted.train.x[0], bundle.train.x[0])
    with pytest.raises(ValueError, match=r"distinctive\.site: .*subjects"):
        plant_distinctive(bundle, DistinctivePlan.from_dict({"site": {"name": "X", "subjects": [9]}}))


def test_several_enlarged_subjects_are_each_measured_against_the_cohort_as_simulated(bundle):
    """Two subjects with enlarged ventricles: each is what planting it alone gives (no compounding)."""
    both = plant_distinctive(bundle.train, DistinctivePlan.from_dict({"ventricles": {"subjects": [0, 1]}}))
    for s in (0, 1):
        alone = plant_distinctive(bundle.train, DistinctivePlan.from_dict({"ventricles": {"subjects": [s]}}))
        assert torch.equal(both.x[s], alone.x[s]) and torch.equal(both.y[s], alone.y[s])
    assert both.meta["design"].tolist()[:3] == ["ventricles", "ventricles", "typical"]
    assert torch.equal(both.x[2:], bundle.train.x[2:])


def test_a_site_name_resolves_to_its_subjects_and_an_unknown_one_is_named(planted):
    assert resolve_requests([[0], "X", [4]], planted.train) == [[0], [2, 3], [4]]
    with pytest.raises(ValueError, match=r"forget_requests\[1\]: site must be one of .*'Y'"):
        resolve_requests([[0], "Y"], planted.train)


def test_each_request_is_labelled_by_its_design(planted):
    data = planted.train
    labels = [request_label(r, data) for r in ([0], [1], [2, 3], [2], [4], [0, 4])]
    assert labels == ["ventricles", "lesions", "site X", "site X (1 of 2)", "typical", "ventricles"]
    groups = [request_group(r, request_label(r, data)) for r in ([0], [2, 3])]
    assert groups == ["ventricles (subject 0)", "site X (subjects 2+3)"]
    assert [design_of_group(g) for g in [*groups, "site X (1 of 2) (subject 2)", "subject 0"]] == [
        "ventricles",
        "site X",
        "site X (1 of 2)",
        None,
    ]


def test_real_data_requests_are_unplanted_and_still_described(bundle):
    """A real dataset (several channels, its own name) is never planted; its requests are labelled
    ``unplanted`` (their own signal is unknown), described from the first channel, and keep a floor."""
    x = torch.cat([bundle.train.x, bundle.train.x], dim=1)
    real = ArrayDataset(x, bundle.train.y, dict(bundle.train.meta), name="mrbrains18", num_classes=4)
    assert request_label([0], real) == UNPLANTED
    design = design_table(real, [[0], [1]], bundle.class_names)
    assert design.design.tolist() == [UNPLANTED, UNPLANTED] and design.distinctiveness.notna().all()
    floor = signal_floor_table(_rows([0], {request_group([0], UNPLANTED): 0.1}))
    assert floor.floor.iloc[0].startswith("unverified")


def test_a_planted_subject_stands_out_from_the_typical_ones(planted):
    """Behaviour on a tiny cohort: planted ventricles, lesions and a site each sit further outside the
    cohort than any typical subject does (no model, the design alone)."""
    design = design_table(planted.train, [[0], [1], [2, 3], [4], [5]], planted.class_names)
    typical = design[design.design == "typical"].distinctiveness
    for label in ("ventricles", "lesions", "site X"):
        assert (design[design.design == label].distinctiveness > typical.max()).all(), design
    top = design.set_index("design")["top descriptor"]
    assert top["ventricles"] == "frac_CSF" and top["site X"] == "site protocol"


# -- notebook parameters ----------------------------------------------------------------------------


def test_the_notebooks_defaults_plant_something_and_request_a_site():
    params = _params()
    assert DistinctivePlan.from_dict(params.distinctive).site is not None
    assert any(isinstance(r, str) for r in params.forget_requests)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"forget_requests": [[0], "Y"]}, r"forget_requests\[1\] names site 'Y', which is not planted"),
        ({"distinctive": None, "forget_requests": [[0], "X"]}, r"forget_requests\[1\] names site 'X'.*distinctive plants no site"),
        ({"distinctive": {"ventricles": {"subjects": [5]}}, "forget_requests": [[0]]}, r"distinctive\.ventricles\.subjects holds held-out"),
        ({"distinctive": {"site": {"name": "X", "subjects": [4, 5]}}}, r"distinctive\.site\.subjects holds held-out"),
        ({"distinctive": {"ventricles": {"subjects": [0], "factr": 3}}}, r"distinctive\.ventricles\.factr"),
        ({"forget_requests": [[0], 7]}, r"forget_requests"),
        ({"forget_requests": [[0, 0]]}, r"forget_requests\[0\] repeats"),
        ({"validation_subjects": [5]}, r"validation_subjects \[5\] are also in heldout_subjects"),
        ({"forget_requests": [[4]]}, r"forget_requests\[0\] holds validation subject\(s\) \[4\]"),
        ({"validation_subjects": [], "tune_methods": ["noisy_label"]}, r"tune_methods needs validation_subjects"),
        ({"tune_methods": ["retrain"]}, r"tune_methods must be methods with a learning rate"),
        ({"tune_methods": ["salun"]}, r"tune_methods must be methods that run"),
        ({"tune_epochs": 99}, r"tune_epochs must be an int in \[1, unlearn_epochs=2\]"),
        ({"tune_factors": [1.0]}, r"tune_factors must be a list of at least two distinct positive numbers"),
        ({"tune_factors": [1.0, -3.0]}, r"tune_factors must be"),
        ({"tune_keep": 1.5}, r"tune_keep must be a share"),
        ({"dataset": "mrbrains18", "dataset_kwargs": {"root": "."}}, r"distinctive: planting is for the simulated cohort"),
    ],
)
def test_bad_parameters_are_refused_naming_the_parameter(changes, match):
    with pytest.raises(ValueError, match=match):
        _params(**changes)


def test_data_checks_name_the_plan_and_the_requests(bundle):
    with pytest.raises(ValueError, match=r"distinctive\.lesions\.subjects: subject\(s\) \[9\]"):
        _params(distinctive={"lesions": {"subjects": [9]}}, forget_requests=[[0]]).check_data(bundle)
    with pytest.raises(ValueError, match="every training subject is in some forget request"):
        _params(
            distinctive={"site": {"name": "X", "subjects": [2, 3, 4]}},
            forget_requests=[[0], [1], "X"],
            validation_subjects=[],
            tune_methods=[],
        ).check_data(bundle)
    _params().check_data(bundle)


def test_a_site_request_is_its_own_split_task():
    """The batch cuts forget_requests into one task per element; a site's name is one, labelled by itself."""
    assert [part_label(v) for v in [[0], [1], "X"]] == ["[0]", "[1]", "X"]


# -- rows: the design label and the signal floor --------------------------------------------------------


def _rows(seeds: list[int], gaps: dict[str, float]) -> pd.DataFrame:
    """Rows as notebook 03 records them: the original's epoch-0 curve, retrain's final values."""
    rows = []
    for group, gap in gaps.items():
        for seed in seeds:
            base = 0.8 + 0.01 * seed
            for split, orig, ret in (("forget", base, base - gap), ("heldout", 0.8, 0.8 + 0.002 * seed), ("retain", 0.85, 0.85)):
                common = {"seed": seed, "split": split, "metric": "dice", "group": group}
                rows.append({**common, "scenario": "curve", "method": "original", "epoch": 0, "value": orig})
                rows.append({**common, "scenario": "final", "method": "retrain", "epoch": np.nan, "value": ret})
    return pd.DataFrame(rows)


def test_the_floor_is_unverified_below_three_training_seeds_and_typical_requests_have_none():
    df = _rows([0], {"ventricles (subject 0)": 0.1, "typical (subject 2)": 0.0})
    floor = signal_floor_table(df)
    assert (
        floor.loc["ventricles (subject 0)", "floor"].startswith("unverified") and floor.loc["ventricles (subject 0)", f"gap ≥ {FLOOR_GAP}"]
    )
    assert floor.loc["typical (subject 2)", "floor"].startswith("typical")
    assert floor.design.tolist() == ["ventricles", "typical"]


def test_the_floor_is_met_only_by_a_gap_above_both_bars():
    seeds = list(range(MIN_TRAINING_SEEDS))
    floor = signal_floor_table(_rows(seeds, {"site X (subjects 3+4+5)": 0.1, "lesions (subject 1)": 0.02}))
    assert floor.floor.to_dict() == {"site X (subjects 3+4+5)": "met", "lesions (subject 1)": "not met"}
    assert floor["training seeds"].eq(MIN_TRAINING_SEEDS).all() and floor["retrain held-out spread"].gt(0).all()


def test_the_design_label_reaches_the_tables_read_from_rows(planted):
    """The label a request's experiment writes into ``group`` is what the memorisation and floor tables show."""
    groups = [request_group(r, request_label(r, planted.train)) for r in resolve_requests([[0], "X", [4]], planted.train)]
    df = _rows([0], dict.fromkeys(groups, 0.05))
    assert memorisation_table(df).index.tolist() == groups == signal_floor_table(df).index.tolist()
    assert signal_floor_table(df).design.tolist() == ["ventricles", "site X", "typical"]
