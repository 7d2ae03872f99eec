"""environment.yml and pyproject.toml must not drift; CI calls the README's test command."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import tomllib
import yaml
from packaging.specifiers import SpecifierSet

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch": "torch"}


def _name(spec: str) -> str:
    return re.split(r"[<>=!~ \[]", spec.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_and_pyproject_name_the_same_packages():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_names = {_name(d) for d in project["dependencies"]} | {_name(d) for d in project["optional-dependencies"]["dev"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {_name(d) for d in env["dependencies"] if isinstance(d, str)} - {"python", "pip"}
    conda = {CONDA_TO_PIP.get(n, n) for n in conda}
    assert conda == pip_names, f"only in environment.yml: {sorted(conda - pip_names)}; only in pyproject: {sorted(pip_names - conda)}"
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert "-e ." in pip_section, "environment.yml must install the project itself"


def _torch_specifier(spec: str, name: str) -> SpecifierSet:
    return SpecifierSet(spec.strip()[len(name) :].strip())


def test_torch_range_admits_the_makefile_pin_and_cuda_builds_and_matches_environment_yml():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    torch = _torch_specifier(next(d for d in deps if _name(d) == "torch"), "torch")
    text = (ROOT / "Makefile").read_text()
    makefile = re.search(r"^TORCH_VERSION\s*:=\s*(\S+)$", text, re.MULTILINE)
    assert makefile, "the Makefile must pin the CPU torch it installs (TORCH_VERSION := X.Y.Z)"
    assert re.search(r"^TORCH\s*:=\s*torch==\$\(TORCH_VERSION\)$", text, re.MULTILINE), "TORCH := torch==$(TORCH_VERSION)"
    pinned = makefile.group(1)
    # The Makefile's CPU build satisfies the range, so `pip install -e .` adds no second torch on top of it.
    assert torch.contains(pinned), f"pyproject's torch{torch} rejects the Makefile's torch=={pinned}"
    # A CUDA build (local version label) of the same release satisfies it too: it is a range, not a pin.
    assert torch.contains(f"{pinned}+cu126") and not any(s.operator == "==" for s in torch)
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = next(d for d in env["dependencies"] if isinstance(d, str) and _name(d) == "pytorch")
    assert _torch_specifier(conda, "pytorch") == torch, f"environment.yml has {conda!r}, pyproject torch{torch}"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci and "make test" in (ROOT / "README.md").read_text()


def test_nbformat_imports_without_rfc3987_syntax():
    """pyproject holds jsonschema below 4.25, whose format-nongpl extra (via jupyter-events) adds rfc3987-syntax:
    it builds its Earley parsers on import, about 1 s in every process that imports nbformat (each pytest
    process, batch worker and papermill run), for IRI format checks nothing here makes."""
    code = "import sys, nbformat, papermill; print(sorted(m for m in sys.modules if m.startswith('rfc3987_syntax')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", f"nbformat pulled in rfc3987-syntax again: {out.stdout.strip()}"
