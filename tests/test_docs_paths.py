"""Every library path the prose names exists: a moved module or a renamed function must not leave the
README, CONTRIBUTING, ``docs/`` or a notebook's teaching cells pointing at nothing."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_FILE = re.compile(r"unlearn_lib/[\w/.]*\w")
_DOTTED = re.compile(r"unlearn_lib(?:\.\w+)+")


def _prose() -> dict[str, str]:
    texts = {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in [ROOT / "README.md", ROOT / "CONTRIBUTING.md"]}
    texts |= {p.relative_to(ROOT).as_posix(): p.read_text(encoding="utf-8") for p in sorted((ROOT / "docs").rglob("*.md"))}
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        cells = json.loads(nb.read_text(encoding="utf-8"))["cells"]
        texts[nb.relative_to(ROOT).as_posix()] = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    return texts


def resolves(dotted: str) -> bool:
    """``unlearn_lib.a.b.c`` names a module, or an attribute chain under the longest module prefix."""
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):
        try:
            spec = importlib.util.find_spec(".".join(parts[:k]))
        except ModuleNotFoundError:
            spec = None
        if spec is None:
            continue
        obj = importlib.import_module(".".join(parts[:k]))
        for attr in parts[k:]:
            if not hasattr(obj, attr):
                return False
            obj = getattr(obj, attr)
        return True
    return False


def test_the_checker_finds_a_path_that_does_not_exist():
    assert resolves("unlearn_lib.studies.gan.unlearn_gan")
    assert not resolves("unlearn_lib.gan.unlearn_gan")  # where it lived before the move
    assert not resolves("unlearn_lib.studies.gan.no_such_name")


@pytest.mark.parametrize("name", sorted(_prose()))
def test_every_library_path_the_prose_names_exists(name):
    text = _prose()[name]
    missing = sorted({p for p in _FILE.findall(text) if not (ROOT / p).exists()} | {d for d in _DOTTED.findall(text) if not resolves(d)})
    assert not missing, f"{name} names {missing}, which do not exist"
