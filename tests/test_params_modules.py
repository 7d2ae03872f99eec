"""Each notebook's parameter schema lives in its own module, imported only by the notebook it checks.

Why it matters: a batch task's key follows the library modules its kernel imported
(``unlearn_lib.batch``), so if every kernel imported every schema, a new parameter of notebook 05
would rerun notebooks 01-04 (hours on 2 cores).
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from unlearn_lib.params import SCHEMA_MODULES, params_schema


def _imported_schemas(stem: str) -> list[str]:
    code = (
        "import json, sys\n"
        "from unlearn_lib.params import params_schema\n"
        f"assert params_schema({stem!r}) is not None\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.endswith('.params'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("stem", ["01_quickstart", "05_gan_unlearning"])
def test_checking_one_notebook_imports_only_its_own_schema(stem):
    imported = _imported_schemas(stem)
    own = SCHEMA_MODULES[stem]
    assert own in imported
    others = set(SCHEMA_MODULES.values()) - {own}
    assert not others & set(imported), f"{stem} imported other notebooks' schemas: {sorted(others & set(imported))}"


def test_every_notebook_has_its_schema_and_an_unknown_one_has_none():
    for stem in SCHEMA_MODULES:
        schema = params_schema(stem)
        assert schema is not None and schema.__module__ == SCHEMA_MODULES[stem]
        assert SCHEMA_MODULES[stem].startswith("unlearn_lib.studies."), "a study's schema lives in its study's package"
    assert params_schema("99_not_a_notebook") is None
