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
import io
import itertools
import linecache
import re
import shlex
import tokenize
from typing import Any, Dict, List, Optional, Set, Tuple, Union

from lineage import _config, _mapping
from lineage._scope import _fail_open, execution
from lineage.errors import InvalidStoreURLError, InvalidValueError, LineageError
from lineage.records import Artifact, _now
from lineage.store import parse_store_url

__all__ = ["load_ipython_extension", "track_cell"]

_USAGE = "%%track [NAME] [--workspace WORKSPACE] [--run RUN] [--store URL]"

# What `%%track?` and `%%track --help` show: the magic had no docstring, and
# IPython's help on it said "<no docstring>".
_HELP = f"""{_USAGE}

Run the cell as one lineage execution named NAME (default: 'notebook cell').
Records the cell reads from variables set before it are its inputs; records it
assigns are its outputs (event path: the variable's name); tracked functions it
calls record it as their parent; an exception in it marks it FAILED.
lineage.current_execution() in the cell logs parameters (log_param).

Options:
  --workspace WORKSPACE  workspace (default: lineage.init()'s, else $LINEAGE_WORKSPACE, else 'default')
  --run RUN              run (default: lineage.init()'s, else $LINEAGE_RUN, else one for this kernel)
  --store URL            store URL (default: lineage.init()'s, else $LINEAGE_STORE, else the embedded store)"""


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext lineage``: register the ``%%track`` cell magic."""

    def track(line: str, cell: str) -> Any:
        __tracebackhide__ = True  # noqa: F841 - IPython's mark: the cell's error is shown without this frame
        return track_cell(ipython, line, cell)

    track.__doc__ = _HELP
    ipython.register_magic_function(track, magic_kind="cell", magic_name="track")


class InvalidMagicLineError(InvalidValueError):
    """A ``%%track`` line that cannot be read: shown by IPython in one line,
    as it shows its own magics' usage errors, not as a traceback into lineage.

    IPython shortens only exceptions whose type *is* its UsageError (not a
    subclass of it); an exception's ``_render_traceback_`` is its documented
    hook for how it is shown. Code that catches InvalidValueError still does,
    and IPython need not be importable to define it.
    """

    def _render_traceback_(self) -> List[str]:
        return [f"UsageError: {self}"]


# user:password@ of a URL within the line (a --store URL, maybe mistyped)
_LINE_PASSWORD = re.compile(r"(://[^/?#@:\s'\"]*:)[^\s'\"]*(@)")
# an option of a URL within the line (?password=..., see store._url._redact)
_LINE_OPTION = re.compile(r"([?&])([^?&#=\s'\"]*)=([^&\s'\"]*)")


def _line_error(message: str, line: str) -> InvalidMagicLineError:
    """An error quoting the magic's *line*, with the password or private key
    of a store URL in it hidden (an error message ends up in logs).

    The passwords are found in the line's words, as shlex reads them (a
    quoted password may hold a space or a quote, which the pattern over the
    quoted text stopped at), by the rule lineage's own URL messages use
    (store._url._redact); then the pattern catches what is left (a line
    shlex cannot read). Only in what the user wrote: the URL forms a URL
    error lists are lineage's own (its "user:pass@" is shown as it is)."""
    from lineage.store._url import _PRIVATE_KEY, SUPPORTED, _hide_password_option, _password_spans

    words: List[str] = []
    for attempt in (line, line + "'", line + '"'):  # an unclosed quote: closed, to read the words
        try:
            words = shlex.split(attempt)
            break
        except ValueError:
            continue
    secrets: Set[str] = set()
    for word in words:
        if "://" not in word:
            continue
        for secret in (word[start:end] for start, end in _password_spans(word) if start < end):
            shown = repr(secret)[1:-1]  # as the line's repr shows it, with either quote escaped
            secrets.update((secret, shown, shown.replace("'", "\\'"), shown.replace('"', '\\"')))

    def hide(text: str) -> str:
        for secret in sorted(secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        text = _LINE_OPTION.sub(_hide_password_option, _LINE_PASSWORD.sub(r"\1***\2", text))
        return _PRIVATE_KEY.sub(r"\1***", text)

    return InvalidMagicLineError(SUPPORTED.join(hide(part) for part in message.split(SUPPORTED)))


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
        raise _line_error(f"{_USAGE}: cannot read {line!r}: {exc}", line) from None
    if "-h" in unknown or "--help" in unknown:
        raise InvalidMagicLineError(_HELP)  # the cell is not run, as a command's --help runs nothing
    if unknown:
        # `%%track clean data`: a name of two words, not an option mistyped;
        # `%%track step sqlite:///x.db`: a store URL without its option.
        hint = ""
        if any("://" in word for word in unknown):
            hint = " (a store URL is given as --store URL)"
        elif not any(word.startswith("-") for word in unknown):
            hint = _several_words(words, args.name, unknown)
        raise _line_error(f"{_USAGE}: unknown argument(s) {unknown} in {line!r}{hint}", line)
    late = _name_after_option(words, args.name, line) if args.name is not None and words[0].startswith("--") else None
    if late:
        raise _line_error(late, line)
    # Named as the line spells them: they were refused as execution(workspace), ...
    # (an empty NAME is the default name, as it was)
    try:
        _config.check_optional_name("%%track NAME", args.name or None)
        _config.check_workspace_name("%%track --workspace", args.workspace)
        _config.check_optional_name("%%track --run", args.run)
        if args.store is not None:
            # here, not at execution(store=...): a traceback that did not say --store
            parse_store_url(args.store)
    except LineageError as exc:
        where = "%%track --store: " if isinstance(exc, InvalidStoreURLError) else ""
        raise _line_error(f"{where}{exc} (in {line!r})", line) from None
    return args


def _name_after_option(words: List[str], name: str, line: str) -> Optional[str]:
    """The error for a NAME written after an option's value: ``%%track --run
    my run`` read as run 'my' and NAME 'run', where the user meant run 'my
    run'. argparse takes a word after an option's value as NAME, and nothing
    on the line tells the two readings apart (``%%track --run r1 clean`` is
    written the same way), so NAME goes first, as the usage shows: a cell
    named and filed wrongly is recorded for good, an error costs one edit.
    None after ``--``, which says that what follows is NAME.

    Every option takes a value and is long (``--run``); a word beginning
    with a single ``-`` is NAME (argparse reads ``-1`` as one). The option
    and its value are taken from the option's own word (``--run=my`` or
    ``--run my``): a value may hold a ``=`` (``--store sqlite:///x.db?mode=ro``)."""
    at, option, value = 0, "", ""
    while at < len(words) and words[at].startswith("--"):
        if words[at] == "--":
            return None
        option, equals, value = words[at].partition("=")
        if not equals:  # --run my
            value = words[at + 1] if at + 1 < len(words) else ""
            at += 1
        at += 1
    if at == 0 or at >= len(words):
        return None  # NAME first, or not expected: argparse found NAME
    return (
        f"{_USAGE}: {name!r} after {option} {shlex.quote(value)} in {line!r} reads as NAME or as the rest of "
        f"{option}'s value: NAME goes first (%%track {shlex.quote(name)} {option} {shlex.quote(value)}), "
        f"a value of several words is quoted ({option} {shlex.quote(' '.join([value, name]))})"
    )


def _several_words(words: List[str], name: Optional[str], unknown: List[str]) -> str:
    """How to write the value the *unknown* words go on: NAME (``%%track
    clean data``) or an option's (``--workspace my ws`` said to quote NAME
    'clean ws'), as the word before them tells; "" if they are not together."""
    for at in range(len(words) - len(unknown), 0, -1):
        if words[at : at + len(unknown)] != unknown:
            continue
        before = words[at - 1]
        option, equals, value = before.partition("=")
        if not equals and at >= 2:
            option, value = words[at - 2], before
        if option in ("--workspace", "--run", "--store"):
            return f" (a value of several words is quoted: {option} {shlex.quote(' '.join([value, *unknown]))})"
        if before == name:
            return f" (a NAME of several words is quoted: %%track {shlex.quote(' '.join([name, *unknown]))})"
        break
    return ""


# IPython's own names: output history, input history, shortcuts.
_IPYTHON_NAMES = re.compile(r"^(_+|_i+|_i?\d+|_[oid]h|In|Out|exit|quit|get_ipython)$")
# A container bigger than this is walked only if its first items hold records
# (a list of five million floats is not searched for records).
_LARGE = 10_000


class _Names(ast.NodeVisitor):
    """Names a cell reads before it assigns them, and names it assigns or
    modifies (``x = ...``, ``x += ...``, ``x[k] = ...``, ``x.a = ...``, ``for x in``).

    Only the cell's own scope counts: names inside the functions, lambdas
    and classes it defines (which may never run) and comprehension
    variables are not the cell's.
    """

    def __init__(self, ipython: Any = None) -> None:
        self._ipython = ipython  # to read the code a magic runs as IPython does
        self.read: Dict[str, None] = {}
        self.assigned: Dict[str, None] = {}
        self._local: List[Set[str]] = []

    def visit_Name(self, node: ast.Name) -> None:  # noqa: N802 - ast's naming
        if any(node.id in scope for scope in self._local):
            return
        if isinstance(node.ctx, ast.Load):
            if node.id not in self.assigned:
                self.read.setdefault(node.id, None)
        else:
            self.assigned.setdefault(node.id, None)

    def _base(self, target: ast.expr) -> None:
        while isinstance(target, (ast.Subscript, ast.Attribute, ast.Starred)):
            target = target.value
        if isinstance(target, ast.Name) and not any(target.id in scope for scope in self._local):
            if target.id not in self.assigned:
                self.read.setdefault(target.id, None)  # x[k] = v reads x first
            self.assigned.setdefault(target.id, None)

    def visit_Assign(self, node: ast.Assign) -> None:  # noqa: N802
        self.visit(node.value)
        for target in node.targets:
            self._target(target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:  # noqa: N802
        self.visit(node.value)
        self._base(node.target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # noqa: N802
        if node.value is not None:
            self.visit(node.value)
        self._target(node.target)

    def visit_For(self, node: Union[ast.For, ast.AsyncFor]) -> None:  # noqa: N802
        self.visit(node.iter)
        loop = {n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)}
        self._local.append(loop)  # the loop variable walks over what exists: not an output
        for child in node.body + node.orelse:
            self.visit(child)
        self._local.pop()

    visit_AsyncFor = visit_For  # noqa: N815

    def _target(self, target: ast.expr) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for item in target.elts:
                self._target(item)
        elif isinstance(target, ast.Name):
            self.visit_Name(target)
        else:
            self.visit(target)  # the index or attribute expression reads names
            self._base(target)

    def _skip_scope(self, node: ast.AST) -> None:
        name = getattr(node, "name", None)
        if name:
            self.assigned.setdefault(name, None)
        for decorator in getattr(node, "decorator_list", []):
            self.visit(decorator)

    visit_FunctionDef = visit_AsyncFunctionDef = visit_ClassDef = _skip_scope  # noqa: N815
    visit_Lambda = _skip_scope  # noqa: N815

    def _comprehension(self, node: Any) -> None:
        local = {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        for generator in node.generators:
            self.visit(generator.iter)
        self._local.append(local)
        for generator in node.generators:
            for condition in generator.ifs:
                self.visit(condition)
        for part in ("elt", "key", "value"):
            if getattr(node, part, None) is not None:
                self.visit(getattr(node, part))
        self._local.pop()

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _comprehension  # noqa: N815

    def visit_Call(self, node: ast.Call) -> None:  # noqa: N802
        code = _magic_code(node, self._ipython)
        if code is not None:
            try:
                # As the magic runs it: %%time and %%capture cells may hold
                # !commands and magics (%matplotlib, a nested %time).
                if self._ipython is not None:
                    code = self._ipython.transform_cell(code)
                tree = ast.parse(code)
            except (SyntaxError, ValueError):  # IPython's syntax within: its names are not seen
                pass
            else:
                self.visit(tree)
                return
        self.generic_visit(node)


# Magics that run the code they are given in the user's namespace: %time x = f(d),
# %%time and %%capture cells (their code is a string once IPython has read the cell).
_LINE_MAGICS_RUNNING_CODE = frozenset({"time", "prun"})
_CELL_MAGICS_RUNNING_CODE = frozenset({"time", "prun", "capture"})


def _magic_code(node: ast.Call, ipython: Any = None) -> Optional[str]:
    """The code a ``get_ipython().run_line_magic("time", "x = f(d)")`` call
    (what IPython makes of ``%time x = f(d)``) runs, or a cell magic's cell."""
    func = node.func
    if not (
        isinstance(func, ast.Attribute)
        and func.attr in ("run_line_magic", "run_cell_magic")
        and isinstance(func.value, ast.Call)
        and isinstance(func.value.func, ast.Name)
        and func.value.func.id == "get_ipython"
        and all(isinstance(arg, ast.Constant) and isinstance(arg.value, str) for arg in node.args)
    ):
        return None
    names = [arg.value for arg in node.args]  # type: ignore[attr-defined]
    if func.attr == "run_line_magic" and len(names) == 2 and names[0] in _LINE_MAGICS_RUNNING_CODE:
        if names[0] == "prun" and ipython is not None:
            # %prun -s cumulative x = f(d): its options are not code
            try:
                magic = ipython.find_line_magic("prun").__self__
                return str(magic.parse_options(names[1], "D:l:rs:T:q", list_all=True, posix=False)[1])
            except Exception:
                return None
        return names[1]
    if func.attr == "run_cell_magic" and len(names) == 3 and names[0] in _CELL_MAGICS_RUNNING_CODE:
        return names[2]
    return None


def _names(tree: ast.Module, ipython: Any = None) -> Tuple[List[str], List[str]]:
    """Names the cell reads before assigning them, and names it assigns (in order)."""
    visitor = _Names(ipython)
    visitor.visit(tree)
    return list(visitor.read), list(visitor.assigned)


def _holds_records(value: Any) -> bool:
    """False for a large container whose first items are no records."""
    if isinstance(value, (list, tuple, dict)) and len(value) > _LARGE:
        items = list(value.values())[:3] if isinstance(value, dict) else list(value[:3])
        return any(_mapping.find_artifacts(item, ()) for item in items)
    return True


def _records(namespace: Dict[str, Any], names: List[str], failed: Set[str]) -> List[Tuple[Any, Tuple[Any, ...]]]:
    """The records the variables *names* hold; a variable that cannot be
    looked into is said once (it is added to *failed*)."""
    found: List[Tuple[Any, Tuple[Any, ...]]] = []
    for name in names:
        if name in namespace and not _IPYTHON_NAMES.match(name):
            value = namespace[name]
            try:
                if _holds_records(value):
                    found.extend(_mapping.find_artifacts(value, (name,)) or ())
            except Exception as exc:  # a converter that fails, an object whose fields cannot be read
                # Said, not raised: the cell runs, as a tracked call does (it was not run at all).
                if name not in failed:  # looked at again after the cell (it may have fixed it): said once
                    failed.add(name)
                    _fail_open(f"look for records in the variable {name!r}", exc)
    return found


_cells = itertools.count(1)


def _made_since(record: Any, when: str) -> bool:
    """Whether *record* was made at *when* or after, by its ``create_time``.
    An object of a class written the Kubeflow SDK's way may hold anything
    there (None, a datetime), or nothing: not compared, then (it was a
    TypeError, and the cell did not run)."""
    made = getattr(record, "create_time", None)
    return isinstance(made, str) and made >= when


def _identity(record: Any) -> Tuple[Any, ...]:
    # An object of a class written the Kubeflow SDK's way may have no uri or
    # name attribute (serialization() gives them): see _mapping.find_artifacts.
    return tuple(getattr(record, name, None) for name in ("uri", "name", "version")) + (type(record).ARTIFACT_TYPE_NAME,)


def track_cell(ipython: Any, line: str, cell: str) -> Any:
    """Run *cell* in the user's namespace as one tracked execution.

    Inputs: records held by variables the cell reads before assigning them.
    Outputs: records made while the cell ran (their ``create_time``) held by
    variables it assigns, modifies or reads (``parts.append(...)``); a
    record that existed before (picked from a list, a loop variable) is not
    an output of the cell.

    Raises:
        InvalidValueError: the magic's line cannot be read (an
            :class:`InvalidMagicLineError`, shown by IPython in one line).
        SyntaxError: the cell is not valid Python here (top-level ``await``
            included); nothing is recorded.
    """
    # An error of the cell is shown as IPython shows its own magics' (%%time):
    # without lineage's frames, which read as if lineage had failed.
    __tracebackhide__ = True  # noqa: F841
    args = _arguments(line)
    name = args.name or "notebook cell"
    source = ipython.transform_cell(cell)
    # One name per run: two runs of one name shared it, and the source (and
    # source_sha256, tracebacks) of an earlier cell's function was the later one's.
    filename = f"<cell {next(_cells)}: %%track {name}>"
    # Tracebacks show the cell's lines; a SyntaxError of compile() below too
    # (`await` outside a function: it quoted an empty line).
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source, filename)  # a SyntaxError here: nothing ran, nothing recorded
    read, assigned = _names(tree, ipython)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    # dont_inherit: not this module's `from __future__ import annotations`
    # (the cell's annotations became strings: `path: DataSet` no input).
    # The notebook's own __future__ imports, as IPython compiles its cells.
    flags = getattr(getattr(ipython, "compile", None), "flags", 0)
    body = compile(tree, filename, "exec", flags=flags, dont_inherit=True)
    shown = compile(ast.Expression(last.value), filename, "eval", flags=flags, dont_inherit=True) if last is not None else None
    namespace = ipython.user_ns
    failed: Set[str] = set()
    scanned = _now()
    inputs = _records(namespace, read, failed)
    # Records a converter made just now of objects the cell reads: made again
    # after the cell with the same identity at the same place, they are the
    # input, not also an output (a self-loop). A changed object is an output.
    converted = {(path, _identity(record)) for record, path in inputs if _made_since(record, scanned)}
    started = _now()
    with execution(name, workspace=args.workspace, run=args.run, store=args.store) as ex:
        seen: Set[int] = set()
        for record, path in inputs:
            if id(record) not in seen:
                seen.add(id(record))
                _log(ex.log_input, record, path)
        exec(body, namespace)  # noqa: S102 - running the user's cell is the point
        value = eval(shown, namespace) if shown is not None else None  # noqa: S307
        # Assigned names, and read ones a method may have changed (parts.append(...)).
        for record, path in _records(namespace, list(dict.fromkeys(assigned + read)), failed):
            made = getattr(record, "create_time", None)
            if (path, _identity(record)) in converted:
                continue  # converted again from what it read, unchanged
            if id(record) not in seen and (not isinstance(made, str) or made >= started):
                seen.add(id(record))
                _log(ex.log_output, record, path)
    if _ends_in_semicolon(source):
        return None  # a trailing semicolon hides the value, as without the magic
    return value


def _log(log: Any, record: Any, path: Tuple[Any, ...]) -> None:
    """Log a record the cell's variables hold; one that cannot be written
    (a dict of it changed in place to hold what no store can) is left out
    with a warning: the cell did nothing wrong in lineage's terms."""
    try:
        log(record, path=path)
    except LineageError as exc:
        _fail_open(f"log the record of {'.'.join(map(str, path))}", exc)
    except Exception as exc:
        if isinstance(record, Artifact):
            raise
        # An object of the Kubeflow SDK's classes (or written their way) is
        # made a record from its serialization(), the object's own code, which
        # may fail (the SDK's json.dumps of a date among its labels): said, as
        # for a tracked call's argument (raised, it stopped the cell).
        _fail_open(f"log the record of {'.'.join(map(str, path))}", exc)


def _ends_in_semicolon(source: str) -> bool:
    """IPython's rule for hiding a cell's value: its last token (comments
    and line ends aside) is a ``;``. A ``;`` in a comment (``model  # fit;``)
    or a string does not count; ``model;  # quiet`` does."""
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # the cell parsed: not expected
        return source.rstrip().endswith(";")
    skipped = (tokenize.ENDMARKER, tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT)
    for token in reversed(tokens):
        if token.type not in skipped:
            return token.type == tokenize.OP and token.string == ";"
    return False
