"""Lineage from notebook cells: the ``%%track`` cell magic.

::

    %load_ext lineage

    %%track clean
    cleaned = DataSet(uri="s3://bucket/clean.csv", name="clean")
    ...

The cell runs as one execution (``with execution("clean")``): records the
cell reads from variables set before it are its inputs, records it assigns
to variables are its outputs (event path: the variable's name, plus index
or key inside a list or dict). Tracked functions called in the cell record
it as their parent. ``lineage.current_execution()`` in the cell gives the
execution, to log parameters. IPython is needed only here: ``import
lineage`` never imports it.
"""

from __future__ import annotations

import argparse
import ast
import shlex
from typing import Any, Dict, List, Set, Tuple

from lineage import _mapping
from lineage._scope import execution
from lineage.errors import InvalidValueError

__all__ = ["load_ipython_extension", "track_cell"]

_USAGE = "%%track [NAME] [--workspace WORKSPACE] [--run RUN] [--store URL]"


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext lineage``: register the ``%%track`` cell magic."""
    ipython.register_magic_function(lambda line, cell: track_cell(ipython, line, cell), magic_kind="cell", magic_name="track")


def _arguments(line: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="%%track", add_help=False, exit_on_error=False)
    parser.add_argument("name", nargs="?", default=None)
    parser.add_argument("--workspace", default=None)
    parser.add_argument("--run", default=None)
    parser.add_argument("--store", default=None)
    try:
        words = shlex.split(line)
        args, unknown = parser.parse_known_args(words)
    except (ValueError, argparse.ArgumentError) as exc:
        raise InvalidValueError(f"{_USAGE}: cannot read {line!r}: {exc}") from None
    if unknown:
        raise InvalidValueError(f"{_USAGE}: unknown argument(s) {unknown} in {line!r}")
    return args


def _names(source: str) -> Tuple[List[str], List[str]]:
    """Names the cell reads before assigning them, and names it assigns (in order)."""
    tree = ast.parse(source)
    read: Dict[str, None] = {}
    assigned: Dict[str, None] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                read.setdefault(node.id, None)
            else:
                assigned.setdefault(node.id, None)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            assigned.setdefault(node.name, None)
    return list(read), list(assigned)


def _records(namespace: Dict[str, Any], names: List[str]) -> List[Tuple[Any, Tuple[Any, ...]]]:
    found: List[Tuple[Any, Tuple[Any, ...]]] = []
    for name in names:
        if name in namespace and not name.startswith("_"):
            found.extend(_mapping.find_artifacts(namespace[name], (name,)) or ())
    return found


def track_cell(ipython: Any, line: str, cell: str) -> Any:
    """Run *cell* in the user's namespace as one tracked execution.

    Raises:
        InvalidValueError: the magic's line cannot be read.
        SyntaxError: the cell is not valid Python (nothing is recorded).
    """
    args = _arguments(line)
    source = ipython.transform_cell(cell)
    read, assigned = _names(source)  # a SyntaxError here: the cell never ran
    namespace = ipython.user_ns
    before: Dict[str, int] = {name: id(namespace[name]) for name in assigned if name in namespace}
    inputs = _records(namespace, read)
    name = args.name or "notebook cell"
    with execution(name, workspace=args.workspace, run=args.run, store=args.store) as ex:
        seen: Set[int] = set()
        for record, path in inputs:
            if id(record) not in seen:
                seen.add(id(record))
                ex.log_input(record, path=path)
        value = _run(source, namespace, f"<cell: %%track {name}>")
        changed = [n for n in assigned if n in namespace and before.get(n) != id(namespace[n])]
        for record, path in _records(namespace, changed):
            ex.log_output(record, path=path)
    return value


def _run(source: str, namespace: Dict[str, Any], filename: str) -> Any:
    """Run the cell; return its last expression's value, which IPython shows
    (as it does for a cell without the magic)."""
    tree = ast.parse(source, filename)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, filename, "exec"), namespace)  # noqa: S102 - running the user's cell is the point
    if last is None:
        return None
    return eval(compile(ast.Expression(last.value), filename, "eval"), namespace)  # noqa: S307

