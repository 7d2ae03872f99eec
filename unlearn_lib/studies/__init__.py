"""Studies built from the library's parts: each a package with one module per job (data, study, analyses, plan, tables, ...).

The headline classes are re-exported here; every other public name lives in its study's package
(``from unlearn_lib.studies.medical import claims_table``), so studies never clash on a name.
"""

from __future__ import annotations

from . import medical
from .medical import MedicalPlan, MedicalStudy

__all__ = ["MedicalPlan", "MedicalStudy", "medical"]
