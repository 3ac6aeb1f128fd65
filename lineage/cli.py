"""The ``lineage`` command.

Sub-commands are registered in :data:`COMMANDS`; each is a function that
adds its arguments to a sub-parser and returns the function that runs it.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import sys
from typing import Any, Callable, Dict, List, Optional

import attrs

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
        help="store URL (default: what lineage.init() set in the process that runs this command, "
        "else $LINEAGE_STORE, else the embedded store under $LINEAGE_HOME)",
    )


def _store_url(option: str, value: Optional[str]) -> Any:
    """The parsed store URL the command works on: *value* (what *option*
    gave), else ``$LINEAGE_STORE``, else the embedded store. A bad one is
    refused naming where the user wrote it: "invalid store URL 'x'" alone
    did not say which of --store and --into, or that it came from the
    environment.

    Raises:
        InvalidStoreURLError: naming *option* or the variable.
    """
    from lineage import _config
    from lineage.errors import InvalidStoreURLError
    from lineage.store import parse_store_url

    url = _config.store_url(value)
    try:
        return parse_store_url(url)
    except InvalidStoreURLError as exc:
        raise InvalidStoreURLError(f"{_store_url_origin(option, value)}: {exc}") from None


def _store_url_origin(option: str, value: Optional[str]) -> str:
    """Where the store URL of :func:`_store_url` came from, as the user wrote it."""
    from lineage import _config

    if value is not None:
        return option
    if _config.settings().store is not None:
        # A command run by a process that called init() (`!lineage serve`
        # in a notebook): it was named LINEAGE_STORE, which was not set.
        return "the store lineage.init() set (in this process, or in the one that started it: LINEAGE_INIT)"
    return "the LINEAGE_STORE environment variable"


@command("ls")
def _ls(parser: argparse.ArgumentParser) -> Runner:
    """list the artifacts of a workspace"""
    _store_argument(parser)
    parser.add_argument("--workspace", "-w", default=None, help="workspace (default: $LINEAGE_WORKSPACE or 'default')")
    parser.add_argument(
        "--type", "-t", dest="type_name", default=None,
        help="artifact type: a record class name (DataSet, Model, Metrics, or a custom one's) or an MLMD type name "
        "(default: every type)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")

    def run(args: argparse.Namespace) -> int:
        from lineage import _config
        from lineage.errors import StoreError
        from lineage.records import record_classes
        from lineage.store import _codec as codec
        from lineage.store import connect

        # Only read: a mistyped path or database name must not make a store.
        conn = connect(attrs.evolve(_store_url("--store", args.store), create=False))
        reader = conn.reader
        name = _config.workspace_name(args.workspace)
        try:  # the first read opens the store
            info = reader.workspace(name)
        except StoreError as exc:
            defaulted = args.store is None and _config.settings().store is None and not os.environ.get("LINEAGE_STORE")
            if defaulted and type(exc) is StoreError:  # no file there, or not a store: not one that is down
                # The README's first script writes to init(store="sqlite:///lineage.db"):
                # `lineage ls` after it looked in the embedded store, found no
                # file, and did not say that the script's store is named with --store.
                raise StoreError(
                    f"{exc} (the embedded store under LINEAGE_HOME; a script that named its own store in "
                    "lineage.init(store=...) wrote there: name it with --store URL, or set LINEAGE_STORE)"
                ) from None
            raise
        if info is None:
            # Which names would do: `lineage ls` looks in 'default', and the
            # workspace a script named in init(workspace=...) is another.
            known = sorted(str(w["name"]) for w in reader.workspaces())
            shown = ", ".join(repr(n) for n in known[:20]) + (f" and {len(known) - 20} more" if len(known) > 20 else "")
            print(
                f"lineage ls: no workspace {name!r} in {conn.url.redacted()} "
                + (f"(its workspaces: {shown}; choose one with -w NAME)" if known else "(it holds no workspace)"),
                file=sys.stderr,
            )
            return 1
        types: List[Optional[str]] = [None]  # every type
        if args.type_name is not None:
            by_class = {cls.__name__.lower(): cls.ARTIFACT_TYPE_NAME for cls in record_classes()}
            type_name = by_class.get(args.type_name.lower(), args.type_name)
            types = [type_name]
            if reader._call("get_artifact_type", type_name) is None:
                # A custom class's name for its type (Checkpoint for acme.org/checkpoint):
                # this command cannot import the class, so match the type name's last part.
                stored = sorted(t.name for t in reader._call("get_artifact_types") or ())
                matches = [t for t in stored if _last_part(t) == _last_part(args.type_name)]
                if not matches and args.type_name.lower() in by_class:
                    types = []  # a record class none of whose artifacts is stored yet: nothing to list
                elif len(matches) > 1:
                    # Two classes of one name in other namespaces: "no artifact type" named both as the store's types.
                    print(
                        f"lineage ls: {args.type_name!r} names {len(matches)} artifact types in {conn.url.redacted()}: "
                        f"{', '.join(matches)}; give the one to list in full with -t",
                        file=sys.stderr,
                    )
                    return 1
                elif not matches:
                    known = sorted({cls.__name__ for cls in record_classes()})
                    print(
                        f"lineage ls: no artifact type {args.type_name!r} in {conn.url.redacted()} "
                        f"(record classes: {', '.join(known)}; "
                        + (f"its artifact types: {', '.join(stored)})" if stored else "it holds no artifact type)"),
                        file=sys.stderr,
                    )
                    return 1
                else:
                    types = [matches[0]]
        rows: List[Dict[str, Any]] = []
        for type_name in types:
            for row in reader.list_workspace(info["id"], type_name):
                if type_name is not None:
                    codec.name_type(row, type_name)
                rows.append(row)
        if args.json:
            print(json.dumps(_json_safe(rows), indent=2, default=str, allow_nan=False))
        elif not rows:
            # Nothing printed and exit 0 read as "did it look anywhere?": said on
            # stderr (a script reading stdout still gets no line), where it looked.
            of_type = f" of type {args.type_name!r}" if args.type_name is not None else ""
            print(f"lineage ls: no artifact{of_type} in workspace {name!r} of {conn.url.redacted()}", file=sys.stderr)
        else:
            from lineage.graph import _apart_by_digest, _line, _version_suffix

            lines = {}
            for row in sorted(rows, key=lambda r: r["id"]):
                # One artifact per line: a newline in a name is shown escaped.
                name = _line(str(row.get("name")))
                version = _line(_version_suffix(row.get("version")))
                kind = codec.type_of_row(row).rsplit("/", 1)[-1]
                lines[row["id"]] = f"{kind:<10} {name}{version}  {_line(str(row.get('uri')))}"
            # Rows shown alike whose files had other bytes: their digests' start
            apart = _apart_by_digest((row["id"], lines[row["id"]], row.get("lineage.digest")) for row in rows)
            for artifact_id, line in lines.items():
                print(f"{artifact_id:>6}  {line}" + (f"  {apart[artifact_id]}" if artifact_id in apart else ""))
        return 0

    return run


@command("serve")
def _serve(parser: argparse.ArgumentParser) -> Runner:
    """serve a store over MLMD's gRPC protocol (MetadataStoreService)"""
    _store_argument(parser)
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on: a name or an IP address, ::1 or [::1] (default: 127.0.0.1)"
    )
    parser.add_argument("--port", type=int, default=8080, help="port to listen on; 0 picks a free one (default: 8080)")
    parser.add_argument("--tls-cert", metavar="FILE", default=None, help="server certificate (PEM); enables TLS")
    parser.add_argument("--tls-key", metavar="FILE", default=None, help="server private key (PEM)")
    parser.add_argument(
        "--tls-client-ca", metavar="FILE", default=None,
        help="CA of client certificates (PEM); clients must then present one",
    )
    parser.add_argument(
        "--grace", type=float, default=10.0, metavar="SECONDS",
        help="on SIGTERM/SIGINT, time given to calls in flight (default: 10)",
    )
    parser.add_argument(
        "--keepalive", type=float, default=None, metavar="SECONDS",
        help="ping a connection quiet for this long and close it if its client does not answer (a client "
        "gone without closing) (default: 120; 0: never)",
    )
    parser.add_argument(
        "--idle-timeout", type=float, default=0.0, metavar="SECONDS",
        help="close a connection without a call for this long, at least 1; its client reconnects at its "
        "next call (default: 0, never)",
    )

    def run(args: argparse.Namespace) -> int:
        import logging

        from lineage import _config
        from lineage.errors import InvalidValueError
        from lineage.store._server import KEEPALIVE_SECONDS, TLSFiles, serve

        if bool(args.tls_cert) != bool(args.tls_key):
            parser.error("--tls-cert and --tls-key go together")
        if args.tls_client_ca and not args.tls_cert:
            parser.error("--tls-client-ca needs --tls-cert and --tls-key")
        if not 0 <= args.port <= 65535:
            parser.error(f"--port must be from 0 to 65535, got {args.port}")
        if not 0 <= args.grace < math.inf:  # inf overflowed at shutdown; nan and -5 were taken
            parser.error(f"--grace must be a number of seconds, 0 or more, got {args.grace}")
        if args.keepalive is not None and not 0 <= args.keepalive < math.inf:
            parser.error(f"--keepalive must be a number of seconds, 0 or more, got {args.keepalive}")
        if not (args.idle_timeout == 0 or 1 <= args.idle_timeout < math.inf):
            # shorter, a call made as the close came failed on MLMD's stock client
            parser.error(f"--idle-timeout must be 0 (never) or a number of seconds, 1 or more, got {args.idle_timeout}")
        tls = TLSFiles(args.tls_cert, args.tls_key, args.tls_client_ca) if args.tls_cert else None
        url = _store_url("--store", args.store)  # refused before the log handler is set up
        if _config.store_url(args.store) is None:  # the embedded store: in a pod, on the container's disk?
            from lineage.workspace import _warn_if_lost_with_the_pod

            _warn_if_lost_with_the_pod(url)
        if url.is_remote:
            # serve() refuses it too, but not saying where it came from: a
            # LINEAGE_STORE=grpc://... set for the tracked code, say.
            raise InvalidValueError(
                f"{_store_url_origin('--store', args.store)}: only a database store can be served "
                f"(sqlite, memory, postgresql, mysql), got {url.redacted()!r}"
            )
        # Only the server's own lines: MLMD's Python layer logs every
        # connection at INFO through absl and the root logger.
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        serve_log = logging.getLogger("lineage.serve")
        serve_log.addHandler(handler)
        serve_log.setLevel(logging.INFO)
        serve_log.propagate = False
        keepalive = KEEPALIVE_SECONDS if args.keepalive is None else args.keepalive or None  # 0: never
        # [::1] as a URL writes it: gRPC wants the address bare (it failed on "[[::1]]:8080").
        host = args.host[1:-1] if args.host.startswith("[") and args.host.endswith("]") else args.host
        return serve(
            url, host=host, port=args.port, tls=tls, grace=args.grace, keepalive=keepalive, idle_timeout=args.idle_timeout or None
        )

    return run


@command("sync")
def _sync(parser: argparse.ArgumentParser) -> Runner:
    """replay writes left in spool files (idempotent: safe to run twice)"""
    parser.add_argument(
        "--store",
        metavar="URL",
        default=None,
        help="replay only the writes spooled for this store (default: every write, each into the store it was spooled for)",
    )
    parser.add_argument(
        "--into",
        metavar="URL",
        default=None,
        help="replay them into this store instead (a store that moved); with writes waiting for several stores, "
        "choose one with --store",
    )
    parser.add_argument("--home", default=None, help="LINEAGE_HOME to read spools from (default: $LINEAGE_HOME or ~/.lineage)")

    def run(args: argparse.Namespace) -> int:
        from lineage.store import _spool

        _check_home(parser, args.home)
        # Checked here, to name the option that was wrong (both are URLs);
        # none falls back to $LINEAGE_STORE: sync replays where writes were spooled for.
        for option, value in (("--store", args.store), ("--into", args.into)):
            if value is not None:
                _store_url(option, value)
        # A mistyped --into made a new store without a word, and the spool was emptied into it.
        new_file = _store_url("--into", args.into).path if args.into is not None else None
        if new_file is not None and os.path.exists(new_file):
            new_file = None
        interactive = sys.stderr.isatty()

        def progress(done: int, total: int) -> None:
            if interactive:
                print(f"\rreplaying {done}/{total}", end="", file=sys.stderr, flush=True)
            elif done % 500 == 0 or done == total:
                print(f"replayed {done}/{total}", file=sys.stderr, flush=True)

        report = _spool.sync(store=args.store, home=args.home, progress=progress, into=args.into)
        if interactive and (report.written or report.present):
            print(file=sys.stderr)
        if new_file is not None and os.path.exists(new_file):
            print(f"lineage sync: made a new store {new_file!r} (--into named no existing one)", file=sys.stderr)
        print(
            f"written: {report.written}  already present (skipped): {report.present}  failed: {len(report.failed)}"
            f"  unreadable: {len(report.unreadable)}"
        )
        for path, seq, reason in report.failed:
            print(f"  not replayed: {path} entry {seq}: {reason} (left in the spool)")
        for path, place, reason in report.unreadable:
            print(f"  {place + ' of ' if place else ''}{path} unreadable: {reason}; left in the spool")
        for path, store, state in report.unreachable:
            print(f"  store {store} {state}; {path} is left for a later sync")
        for path in report.busy:
            print(f"  in use by another process (the one that wrote it, or another sync, replays it): {path}")
        if report.partial_lines:
            print(f"  {report.partial_lines} incomplete line(s) ignored (a write cut short by a crash)")
        if report.other_stores:
            print(f"  {report.other_stores} write(s) for other stores left in the spool (lineage status lists them)")
        return 0 if report.ok else 1

    return run


@command("status")
def _status(parser: argparse.ArgumentParser) -> Runner:
    """show spooled writes and whether the store answers"""
    _store_argument(parser)
    parser.add_argument("--home", default=None, help="LINEAGE_HOME (default: $LINEAGE_HOME or ~/.lineage)")
    parser.add_argument("--json", action="store_true", help="print JSON")

    def run(args: argparse.Namespace) -> int:
        from lineage.errors import StoreError
        from lineage.store import RetryPolicy, _backend, _spool, connect

        _check_home(parser, args.home)
        url = _store_url("--store", args.store)
        answers = True
        reason = ""
        busy: Optional[str] = None
        refusal: Optional[str] = None
        absent: Optional[str] = None
        try:
            # Only read: a mistyped path or database name must not make a store.
            checked = attrs.evolve(url, create=False)
            # Through the backend's call, as writes go: its retry policy
            # applies, and its failure says what writes' warnings say (a
            # server overloaded, a TLS setting that does not match it).
            connect(checked, retry=RetryPolicy(max_delay=2.0, unavailable_delay=2.0)).backend.call("get_context_types")
        except Exception as exc:  # any failure means "does not answer"; say why
            answers, reason = False, f"{type(exc).__name__}: {exc}"
            # But one that answered RESOURCE_EXHAUSTED (its call limit, a
            # quota) is up, with no room for now: said so, not "does NOT answer".
            busy = _backend.overload(exc)
            # And one that answered and refused the connection (TLS): a setting to fix.
            refusal = getattr(exc, "refusal", None)
            there = f"no store at {url.redacted()}: "
            if type(exc) is StoreError and str(exc).startswith(there):
                # No store there (no file yet, a file of another application): nothing
                # was asked of a server. "does NOT answer" read as a store that is down
                # on the first `lineage status` after installing, before any tracked call.
                absent = str(exc)[len(there):]
                if _config_store_unset(args.store) and absent == "the file does not exist":
                    absent += (
                        " (the embedded store under LINEAGE_HOME: the first tracked call makes it; a script that "
                        "named its own store in lineage.init(store=...) wrote there: name it with --store URL)"
                    )
        spools = list(_spool.status(args.home, store=url))
        if args.json:
            print(json.dumps({
                "store": url.redacted(), "answers": answers, "overloaded": busy is not None, "refused": refusal is not None,
                "reason": busy or refusal or reason or None,
                "spools": spools,
            }, indent=2))
            return 0 if answers else 1
        if busy:
            state = f"is overloaded ({busy}): it takes no call for now"
        elif refusal:
            state = f"cannot be used: {refusal}"
        elif absent:
            state = f"is no store: {absent}"
        else:
            state = "answers" if answers else "does NOT answer: " + reason
        print(f"store: {url.redacted()}  {state}")
        total = sum(s["entries"] for s in spools)
        print(f"spooled writes: {total} in {len(spools)} file(s)")
        unreadable = sum(len(s["unreadable"]) for s in spools)
        if unreadable:
            print(f"unreadable: {unreadable} line(s), left in the spool (`lineage sync` replays the rest)")
        others = sorted({s for info in spools if info["entries"] for s in info["other_stores"]})
        for info in spools:
            busy = "  (process running)" if info["busy"] else ""
            stores = f" for {', '.join(info['stores'])}" if info["stores"] else ""
            print(f"  {info['path']}: {info['entries']} write(s){stores}, oldest {info['oldest']}, {info['size']} bytes{busy}")
            for bad in info["unreadable"]:
                place = _spool.where(bad["line"], bad["seq"]) + " " if bad["line"] is not None else ""
                print(f"    {place}unreadable: {bad['reason']}")
        if others:
            print(f"writes wait for other stores, not checked here: {', '.join(others)} (lineage status --store URL; "
                  "lineage sync --store URL --into NEW replays one store's writes into another)")
        return 0 if answers else 1

    return run


def _config_store_unset(option: Optional[str]) -> bool:
    """Whether the command works on the embedded store because nothing named
    another: not --store, not lineage.init(), not LINEAGE_STORE."""
    from lineage import _config

    return _config.store_url(option) is None


def _check_home(parser: argparse.ArgumentParser, home: Optional[str]) -> None:
    """A --home that is not a folder is a typo: not "nothing spooled". A
    spool folder that cannot be read (another user's: it is made mode 700;
    a file named spool) is named: it was a traceback."""
    from lineage.store._spool import spool_dir

    if home is not None and not os.path.isdir(home):
        parser.error(f"--home {home!r}: no such folder")
    folder = spool_dir(home)
    try:
        os.listdir(folder)
    except FileNotFoundError:  # nothing spooled yet
        pass
    except OSError as exc:
        parser.exit(2, f"{parser.prog}: cannot read the spool folder {folder!r}: {exc.strerror or exc}\n")


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

    # A name its encoding has no character for (an emoji, on a latin-1 or
    # ASCII locale) is shown escaped, as stderr shows it, not a traceback.
    if isinstance(sys.stdout, io.TextIOWrapper) and sys.stdout.errors == "strict":
        sys.stdout.reconfigure(errors="backslashreplace")
    from lineage.store._url import home_variable

    env = home_variable()
    if env and os.path.exists(env) and not os.path.isdir(env):  # every command: serve's default store is there too
        parser.error(f"LINEAGE_HOME={env!r} is not a folder")
    try:
        return int(args._run(args) or 0)
    except LineageError as exc:
        print(f"lineage {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # Ctrl-C on a store that does not answer: a traceback into lineage's
        # connection code read as a crash. (sync: what it replayed is kept.)
        print(f"\nlineage {args.command}: interrupted", file=sys.stderr)
        return 130  # as a shell reports a command ended by SIGINT
    except BrokenPipeError:
        # `lineage ls | head`: the reader has gone, as for any Unix tool.
        # Python would fail again flushing stdout at exit: point it nowhere.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1  # as Python's own documentation does for EPIPE


def _last_part(type_name: str) -> str:
    """"kubeflow.org/alpha/data_set", "DataSet" -> "dataset"."""
    last = type_name.rsplit("/", 1)[-1].rsplit(".", 1)[-1]
    return "".join(c for c in last.lower() if c.isalnum())


def _json_safe(value: Any) -> Any:
    """NaN and infinities (a metric of a run that diverged) as the strings
    "NaN", "Infinity", "-Infinity": JSON has no such numbers."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
