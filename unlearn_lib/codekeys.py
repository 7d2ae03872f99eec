"""Which code a task ran, so that a finished task is redone only when that code changes.

A task's run records the ``unlearn_lib`` modules its kernel had imported when the notebook finished, each
with a digest of its syntax tree (docstrings dropped; comments and formatting never reach the tree). A
finished task stays finished while every module it recorded still has the same digest: a docstring fix,
an edit to the explorer or to the batch engine, or any module the task never imported leaves it alone;
an edit to code it ran makes the batch run it again.

Why not hash the whole library: every cleanup anywhere then re-keys every task (40-70 min of study), so
cleanups get deferred and the code rots.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "LIB_ROOT",
    "PACKAGE",
    "RECORD_MODULES",
    "library_digests",
    "library_stamp",
    "module_digest",
    "source_digest",
    "stale_modules",
    "stamped_digests",
]

LIB_ROOT = Path(__file__).resolve().parent
PACKAGE = LIB_ROOT.name

#: Run in the kernel after the notebook's last cell (``{path!r}`` is filled in): the names of the
#: package's modules it imported, one per line. ``sys`` is imported under a private name so that a
#: notebook's own ``sys`` is not touched.
RECORD_MODULES = (
    "import sys as _unlearn_sys\n"
    "with open({path!r}, 'w') as _unlearn_fh:\n"
    "    _unlearn_fh.write('\\n'.join(sorted(m for m in _unlearn_sys.modules if m == {package!r} or m.startswith({package!r} + '.'))))\n"
    "del _unlearn_sys, _unlearn_fh\n"
)


class _DropDocstrings(ast.NodeTransformer):
    """Removes the docstring of the module and of every class and function (they do not run)."""

    def _drop(self, node: ast.AST) -> ast.AST:
        self.generic_visit(node)
        body = getattr(node, "body", None)
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]  # type: ignore[attr-defined]
        return node

    visit_Module = visit_ClassDef = visit_FunctionDef = visit_AsyncFunctionDef = _drop


def source_digest(source: str) -> str:
    """SHA-256 (hex) of Python source as its syntax tree without docstrings: equal for two sources that
    differ only in comments, formatting or docstrings."""
    tree = _DropDocstrings().visit(ast.parse(source))
    return hashlib.sha256(ast.dump(tree, annotate_fields=False).encode()).hexdigest()


def module_digest(path: str | os.PathLike) -> str:
    """:func:`source_digest` of one file; a file that does not parse hashes as its bytes (it still changes
    the digest when edited, and the task that imports it fails on its own)."""
    data = Path(path).read_bytes()
    try:
        return source_digest(data.decode("utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError):
        return "bytes:" + hashlib.sha256(data).hexdigest()


#: Stamp of the library's files: ``(relative path, size, modification time in ns)`` of each ``.py`` file.
Stamp = tuple[tuple[str, int, int], ...]


def library_stamp(root: str | os.PathLike = LIB_ROOT) -> Stamp:
    """Every ``.py`` file of the package at ``root`` with its size and modification time: cheap (no file is
    read), and it changes whenever a file is edited, added or removed."""
    base = Path(root).resolve()
    return tuple(
        (p.relative_to(base).as_posix(), (st := p.stat()).st_size, st.st_mtime_ns)
        for p in sorted(base.rglob("*.py"))
        if "__pycache__" not in p.parts
    )


@functools.lru_cache(maxsize=8)
def _digests(root: str, stamp: Stamp) -> dict[str, str]:
    base = Path(root)
    out: dict[str, str] = {}
    for rel, _, _ in stamp:
        parts = Path(rel).with_suffix("").parts
        name = ".".join((base.name, *parts[:-1])) if parts[-1] == "__init__" else ".".join((base.name, *parts))
        out[name] = module_digest(base / rel)
    return out


def stamped_digests(root: str | os.PathLike = LIB_ROOT) -> tuple[Stamp, dict[str, str]]:
    """The files' stamp and the digests read after it, for a batch to hand its workers. The stamp is taken
    first: a file edited in between is read in its new state under its old stamp, which a worker's own
    stamp then contradicts, so no worker takes digests older than its files."""
    base = Path(root).resolve()
    stamp = library_stamp(base)
    return stamp, dict(_digests(str(base), stamp))


def library_digests(root: str | os.PathLike = LIB_ROOT, known: tuple[Stamp, Mapping[str, str]] | None = None) -> dict[str, str]:
    """``{module name: digest}`` for every ``.py`` file of the package at ``root`` (``pkg.sub`` for
    ``pkg/sub/__init__.py``). Memoised on the files' sizes and modification times.

    ``known``: a stamp and the digests computed for it (:func:`stamped_digests`, by the batch that planned
    a task: parsing the library takes about half a second, in every worker process). They are taken when
    this ``root``'s files have that exact stamp, i.e. when nothing was edited since; otherwise the digests
    are computed here."""
    base = Path(root).resolve()
    stamp = library_stamp(base)
    if known is not None and tuple(map(tuple, known[0])) == stamp:
        return dict(known[1])
    return dict(_digests(str(base), stamp))


def stale_modules(recorded: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The recorded modules whose code changed (or that no longer exist): empty when the task's code is
    unchanged."""
    return sorted(name for name, digest in recorded.items() if current.get(name) != digest)
