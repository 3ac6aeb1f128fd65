"""The ``lineage`` command.

Sub-commands are registered in :data:`COMMANDS`; each is a function that
adds its arguments to a sub-parser and returns the function that runs it.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable, Dict, List, Optional

from lineage._version import __version__

Runner = Callable[[argparse.Namespace], int]
COMMANDS: Dict[str, Callable[[argparse.ArgumentParser], Runner]] = {}


def command(name: str) -> Callable[[Callable[[argparse.ArgumentParser], Runner]], Callable[[argparse.ArgumentParser], Runner]]:
    def register(fn: Callable[[argparse.ArgumentParser], Runner]) -> Callable[[argparse.ArgumentParser], Runner]:
        COMMANDS[name] = fn
        return fn

    return register


def _store_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="store URL (default: $LINEAGE_STORE, else the embedded store under $LINEAGE_HOME)",
    )


@command("ls")
def _ls(parser: argparse.ArgumentParser) -> Runner:
    """list the artifacts of a workspace"""
    _store_argument(parser)
    parser.add_argument("--workspace", "-w", default=None, help="workspace (default: $LINEAGE_WORKSPACE or 'default')")
    parser.add_argument(
        "--type", "-t", dest="type_name", default=None,
        help="artifact type name (default: DataSet, Model and Metrics)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")

    def run(args: argparse.Namespace) -> int:
        from lineage import _config
        from lineage.records import DataSet, Metrics, Model
        from lineage.workspace import Store

        store = Store(url=_config.store_url(args.store)) if (args.store or _config.store_url()) else Store()
        name = _config.workspace_name(args.workspace)
        info = store._connection.reader.workspace(name)
        if info is None:
            print(f"no workspace {name!r} in {store.url.redacted()}", file=sys.stderr)
            return 1
        types = [args.type_name] if args.type_name else [c.ARTIFACT_TYPE_NAME for c in (DataSet, Model, Metrics)]
        rows: List[Dict[str, Any]] = []
        for type_name in types:
            for row in store._connection.reader.list_workspace(info["id"], type_name):
                row["type"] = type_name
                rows.append(row)
        if args.json:
            print(json.dumps(rows, indent=2, default=str))
        else:
            for row in sorted(rows, key=lambda r: r["id"]):
                version = f" v{row['version']}" if row.get("version") else ""
                print(f"{row['id']:>6}  {row['type'].rsplit('/', 1)[-1]:<10} {row.get('name')}{version}  {row.get('uri')}")
        return 0

    return run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lineage",
        description="Record and inspect ML lineage in ML Metadata (MLMD).",
    )
    parser.add_argument("--version", action="version", version=f"lineage {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, setup in COMMANDS.items():
        sub_parser = sub.add_parser(name, help=(setup.__doc__ or "").strip(), description=(setup.__doc__ or "").strip())
        sub_parser.set_defaults(_run=setup(sub_parser))
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 0
    from lineage.errors import LineageError

    try:
        return int(args._run(args) or 0)
    except LineageError as exc:
        print(f"lineage {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
