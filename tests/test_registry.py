"""The one strategy registry: every modality, every entry with its summary and reference."""

from __future__ import annotations

import pytest
import torch

from unlearn_lib.strategies import get_strategy, list_strategies, register, strategy_table, unlearn
from unlearn_lib.strategies.__main__ import main
from unlearn_lib.studies.gan import get_gan_strategy, list_gan_strategies


def test_one_registry_lists_every_modality_with_reference_and_summary():
    table = strategy_table()
    assert {"scrub", "noisy_label", "gan_cascaded", "retrain"} <= set(table.name)
    assert (table.summary.str.len() > 20).all() and (table.reference.str.len() > 3).all()
    gen = strategy_table("generation")
    assert set(gen.name) == set(list_gan_strategies()) and all(n.startswith("gan_") for n in gen.name)
    seg = set(strategy_table("segmentation").name)
    assert {"noisy_label", "scrub", "retrain"} <= seg and not seg & set(gen.name)
    assert "noisy_label" not in set(strategy_table("classification").name)


def test_modality_is_enforced():
    assert get_gan_strategy("gan_cascaded") is get_strategy("gan_cascaded")
    with pytest.raises(ValueError, match=r"serves .*classification.*not generation"):
        get_gan_strategy("scrub")
    with pytest.raises(ValueError, match="unlearn_gan"):
        unlearn("gan_cascaded", torch.nn.Linear(1, 1), retain=[1], forget=[1], task=None)


def test_register_refuses_an_entry_without_reference_or_with_a_bad_modality():
    with pytest.raises(ValueError, match="reference"):
        register("x_no_ref", reference="")
    with pytest.raises(ValueError, match="modalities"):
        register("x_bad_mod", reference="r", modalities=("audio",))
    assert "x_no_ref" not in list_strategies()


def test_cli_prints_the_table(capsys):
    assert main(["generation"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("| name | modalities | summary | reference |") and "gan_cascaded" in out and "scrub" not in out
    assert main(["audio"]) == 2


def test_every_gradient_method_writes_its_epoch_and_the_shared_skeleton_runs_it():
    """#31: a method writes its loss (its epoch of ``run_epoch`` steps); ``EpochStrategy`` builds the
    optimizer, runs the epochs and records them, so budgets, history and curves work alike for all.
    Only methods without optimizer steps, or that run the recipe or other methods, write ``unlearn``."""
    from unlearn_lib.strategies._loop import EpochStrategy

    no_steps = {"fisher", "ssd", "rum", "retrain"}
    names = sorted(set(list_strategies("classification")) | set(list_strategies("segmentation")))
    looped = [n for n in names if issubclass(get_strategy(n), EpochStrategy)]
    assert sorted(set(names) - set(looped)) == sorted(no_steps), "a new method should subclass EpochStrategy"
    own_loop = [
        n
        for n in looped
        for c in get_strategy(n).__mro__
        if c is not EpochStrategy and issubclass(c, EpochStrategy) and "unlearn" in vars(c)
    ]
    assert own_loop == []  # none (nor a base of it) runs its own loop
    assert len(looped) >= 15
