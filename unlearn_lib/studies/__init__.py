"""Studies built from the library's parts: each a package with one module per job (data, study, analyses, plan, tables, ...).

The headline classes are re-exported here; every other public name lives in its study's package
(``from unlearn_lib.studies.medical import claims_table``), so studies never clash on a name.

Imports are lazy: a notebook that uses one study (02 imports ``studies.classifiers``) must not import the
others, because a task's key covers every ``unlearn_lib`` module its kernel imported; an eager import
here would make every edit to 04's package rerun 02.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["MedicalPlan", "MedicalStudy", "medical"]

_FROM_MEDICAL = {"MedicalPlan", "MedicalStudy"}


def __getattr__(name: str) -> Any:
    if name == "medical":
        return importlib.import_module(f"{__name__}.medical")
    if name in _FROM_MEDICAL:
        return getattr(importlib.import_module(f"{__name__}.medical"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
