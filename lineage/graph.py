"""The lineage of an artifact, as a small graph you can print or export.

``store.lineage(model)`` gives a :class:`LineageGraph` of everything
upstream of *model*: the executions that produced it, their inputs, the
executions that produced those, and so on. Print it (an indented tree),
export it (:meth:`~LineageGraph.to_json`, :meth:`~LineageGraph.to_dot` for
Graphviz, :meth:`~LineageGraph.to_mermaid`,
:meth:`~LineageGraph.to_openlineage`), or show it in a notebook (a
drawing when the optional ``graphviz`` package and its ``dot`` program are
there, else the tree).
"""

from __future__ import annotations

import html
import json
import operator
import re
import urllib.parse
import uuid
from typing import Any, Dict, Iterable, List, Optional, Set, Tuple

import attrs

from lineage.errors import InvalidTypeError, InvalidValueError, describe
from lineage.records import Artifact

__all__ = ["LineageGraph"]

_SKIP_PARAMS_PREFIX = ("lineage.", "__kf_")
# A parameter's value in the text tree is cut past this many characters: a
# list of training rows (kept up to 4,096 characters) made one line of the
# tree thousands of characters long. to_dict() and to_json() keep it whole.
_SHOWN_MAX = 80


class _Edges(list):  # type: ignore[type-arg]
    """A graph's edges: a list that counts its changes, so that the graph
    knows in one step whether its index is current (comparing the whole
    list made each step of a walk up 8,000 executions cost 32,000 edges).
    Pickled as a plain list."""

    __slots__ = ("changes",)

    def __init__(self, edges: Any = ()) -> None:
        super().__init__(edges)
        self.changes = 0

    def __reduce__(self) -> Any:
        return list, (list(self),)


def _counted(name: str) -> Any:
    change = getattr(list, name)

    def changed(self: _Edges, *args: Any, **kwargs: Any) -> Any:
        self.changes += 1
        return change(self, *args, **kwargs)

    changed.__name__ = name
    return changed


# Every list method that changes its items (sort and reverse too: a caller
# may rely on neither, but a count costs nothing).
_CHANGES = ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append", "extend", "insert", "pop", "remove", "clear")
for _name in _CHANGES + ("sort", "reverse"):
    setattr(_Edges, _name, _counted(_name))


class _IndexSlot:
    """Where a LineageGraph keeps its index: a slot outside its attrs fields,
    so that pickles, ``attrs.asdict``, equality and repr leave the cache out
    (as a field, a pickled graph carried a second copy of its edges)."""

    __slots__ = ("_index",)
    _index: Any


@attrs.define
class LineageGraph(_IndexSlot):
    """Artifacts, executions and the events between them.

    Attributes:
        root: Id of the artifact the graph was built from.
        artifacts: Records by id.
        executions: Execution summaries by id (name, state, properties...).
        edges: (artifact_id, execution_id, event type) triples.
        artifact_types: The stored MLMD type name of each artifact (a type
            this process has no record class for is read as ``Artifact``).
        truncated: True if the walk stopped at ``max_depth`` with more
            upstream.
        digests: The content digest of each artifact that names a local
            file, as stored (``lineage.digest``, ``lineage.size``,
            ``lineage.digest_scope``, ``lineage.digest_reason``): records
            leave them out.
    """

    root: int
    artifacts: Dict[int, Artifact]
    executions: Dict[int, Dict[str, Any]]
    edges: List[Tuple[int, int, str]] = attrs.field(converter=_Edges)
    artifact_types: Dict[int, str] = attrs.Factory(dict)
    truncated: bool = False
    digests: Dict[int, Dict[str, Any]] = attrs.Factory(dict)

    # Pickled as attrs does (a dict of the fields); loaded so that a graph
    # pickled by an older lineage, without a field added since (digests),
    # gets its default, as a graph built without it: attrs left it unset,
    # and print(graph), to_dict() and == raised AttributeError.
    def __getstate__(self) -> Dict[str, Any]:
        return {field.name: getattr(self, field.name) for field in attrs.fields(type(self))}

    def __setstate__(self, state: Any) -> None:
        fields = attrs.fields(type(self))
        if isinstance(state, tuple):  # attrs before 22.2 pickled the values in field order
            state = dict(zip((field.name for field in fields), state))
        for field in fields:
            if field.name in state:
                value = state[field.name]
            elif field.default is attrs.NOTHING:  # a field every pickle has: left unset, as attrs does
                continue
            elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
                value = field.default.factory()
            else:
                value = field.default
            object.__setattr__(self, field.name, value)  # as attrs sets them: no converter (see _by_node)

    def type_name(self, artifact_id: int) -> str:
        """The artifact's MLMD type name.

        Raises:
            InvalidTypeError: *artifact_id* is not an int (a record: its ``.id``).
            InvalidValueError: the graph holds no artifact with that id.
        """
        artifact_id = _check_id("type_name", "artifact_id", artifact_id)
        if artifact_id not in self.artifacts and artifact_id not in self.artifact_types:
            raise InvalidValueError(f"type_name(artifact_id): the graph holds no artifact #{artifact_id}")
        stored = self.artifact_types.get(artifact_id)
        if stored:
            return stored
        artifact = self.artifacts.get(artifact_id)
        return type(artifact).ARTIFACT_TYPE_NAME if artifact is not None else Artifact.ARTIFACT_TYPE_NAME

    def producers(self, artifact_id: int) -> List[int]:
        """Executions that output the artifact (none for an id the graph does not hold).

        Raises:
            InvalidTypeError: *artifact_id* is not an int (a record: its ``.id``).
        """
        artifact_id = _check_id("producers", "artifact_id", artifact_id)
        return list(self._by_node()[0].get(artifact_id, []))

    def inputs(self, execution_id: int) -> List[int]:
        """Artifacts the execution took as input (none for an id the graph does not hold).

        Raises:
            InvalidTypeError: *execution_id* is not an int.
        """
        execution_id = _check_id("inputs", "execution_id", execution_id)
        return list(self._by_node()[1].get(execution_id, []))

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-able dict of the graph."""
        return {
            "root": self.root,
            "truncated": self.truncated,
            # A local file's digest and size under the store's names, as
            # `lineage ls --json` has them: two iris.csv of other bytes differ.
            "artifacts": [
                {"id": artifact_id, "type": self.type_name(artifact_id), "name": a.name, "uri": a.uri,
                 "version": getattr(a, "version", None), **self.digests.get(artifact_id, {})}
                for artifact_id, a in self.artifacts.items()
            ],
            "executions": list(self.executions.values()),
            "edges": [{"artifact": a, "execution": e, "type": t} for a, e, t in self.edges],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), default=str, **kwargs)

    def _artifact_line(self, artifact_id: int, apart: Dict[int, str]) -> str:
        artifact = self.artifacts.get(artifact_id)
        if artifact is None:
            return f"artifact #{artifact_id}"
        version = getattr(artifact, "version", None)
        kind = self._kind(artifact_id, artifact)
        shown = f"{_line(kind)} {artifact.name!r}" + (f" version {_line(str(version))}" if version else "")
        digest = f"  {apart[artifact_id]}" if artifact_id in apart else ""
        return f"{shown} #{artifact_id}  {_line(artifact.uri)}{digest}"

    def _kind(self, artifact_id: int, artifact: Artifact) -> str:
        if type(artifact) is Artifact and self.artifact_types.get(artifact_id):  # a type of another tool
            return self.artifact_types[artifact_id]
        return type(artifact).__name__

    def _told_apart(self) -> Dict[int, str]:
        """The short digests that tell apart artifacts shown alike (see _apart_by_digest)."""
        # As text: a custom class's version may be a list, which no dict key can be
        shown = {
            i: (self._kind(i, a), str(a.name), str(getattr(a, "version", None) or ""), str(a.uri))
            for i, a in self.artifacts.items()
        }
        return _apart_by_digest((i, shown[i], self.digests.get(i, {}).get("lineage.digest")) for i in shown)

    def _execution_line(self, execution_id: int) -> str:
        info = self.executions.get(execution_id, {})
        params = {k: v for k, v in (info.get("properties") or {}).items() if not k.startswith(_SKIP_PARAMS_PREFIX)}
        shown = " ".join(f"{_line(k)}={_line(_shown(v))}" for k, v in sorted(params.items()))
        name = info.get("name") or info.get("type") or "execution"
        error = _error_of(info)
        why = f" ({_line(_shown(error))})" if error else ""
        return f"{_line(str(name))} #{execution_id} {info.get('state', '')}{why}" + (f"  {shown}" if shown else "")

    def _by_node(self) -> Tuple[Dict[int, List[int]], Dict[int, List[int]], Dict[int, List[int]]]:
        """Each artifact's producers, each execution's inputs and outputs
        (sorted, once: looking them up per node scanned every edge, and a
        graph of 8,000 executions took seconds to print); kept while the
        edges are the same (producers() and inputs() built it per call: a
        walk up a chain of 3,000 steps took over a minute)."""
        # (the edges it was built from, their count of changes then, the
        # index); unset in a new or unpickled graph. The edges themselves,
        # not their id: an id is reused once its list is gone.
        if not isinstance(self.edges, _Edges):  # set by a pickle, which skips the converter
            self.edges = _Edges(self.edges)
        cached = getattr(self, "_index", None)
        if cached is not None and cached[0] is self.edges and cached[1] == self.edges.changes:
            return cached[2]  # type: ignore[no-any-return]
        producers: Dict[int, Set[int]] = {}
        inputs: Dict[int, Set[int]] = {}
        outputs: Dict[int, Set[int]] = {}
        for artifact_id, execution_id, kind in self.edges:
            if kind.endswith("OUTPUT"):
                producers.setdefault(artifact_id, set()).add(execution_id)
                outputs.setdefault(execution_id, set()).add(artifact_id)
            elif kind.endswith("INPUT"):
                inputs.setdefault(execution_id, set()).add(artifact_id)
        index = tuple({k: sorted(v) for k, v in d.items()} for d in (producers, inputs, outputs))
        self._index = (self.edges, self.edges.changes, index)
        return index  # type: ignore[return-value]

    def to_text(self) -> str:
        """An indented tree, newest artifact first, walking upstream."""
        apart = self._told_apart()
        lines: List[str] = [self._artifact_line(self.root, apart)]
        seen: Set[int] = set()
        # (artifact?, id, prefix, last): a stack, not recursion, so that a
        # chain of thousands of steps prints like a short one.
        stack: List[Tuple[bool, int, str, bool]] = []
        producers_of, inputs_of, _ = self._by_node()

        def push_producers(artifact_id: int, prefix: str) -> None:
            producers = producers_of.get(artifact_id, [])
            for i, execution_id in reversed(list(enumerate(producers))):
                stack.append((False, execution_id, prefix, i == len(producers) - 1))

        push_producers(self.root, "")
        while stack:
            is_artifact, node, prefix, last = stack.pop()
            branch, child = prefix + ("└─ " if last else "├─ "), prefix + ("   " if last else "│  ")
            if is_artifact:
                lines.append(branch + self._artifact_line(node, apart))
                push_producers(node, child)
                continue
            again = node in seen
            lines.append(branch + self._execution_line(node) + ("  (see above)" if again else ""))
            if again:
                continue
            seen.add(node)
            inputs = inputs_of.get(node, [])
            for i, artifact_id in reversed(list(enumerate(inputs))):
                stack.append((True, artifact_id, child, i == len(inputs) - 1))
        if self.truncated:
            lines.append("… (more upstream: the walk stopped at max_depth)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        cut = ", truncated" if self.truncated else ""
        return f"<LineageGraph of artifact #{self.root}: {len(self.artifacts)} artifacts, {len(self.executions)} executions{cut}>"

    # ------------------------------------------------------------------ exports

    def _node_edges(self) -> List[Tuple[str, str]]:
        """(from, to) node names, data flowing: artifact -> execution -> artifact."""
        out = []
        for artifact_id, execution_id, kind in dict.fromkeys(self.edges):
            if artifact_id not in self.artifacts or execution_id not in self.executions:
                continue
            if kind.endswith("INPUT"):
                out.append((f"a{artifact_id}", f"e{execution_id}"))
            elif kind.endswith("OUTPUT"):
                out.append((f"e{execution_id}", f"a{artifact_id}"))
        return out

    def _labels(self) -> Tuple[Dict[int, List[str]], Dict[int, List[str]]]:
        artifacts = {}
        apart = self._told_apart()  # a third line, as in the tree: two boxes "DataSet iris" of other bytes
        for artifact_id, artifact in self.artifacts.items():
            kind = self._kind(artifact_id, artifact)
            named = f"{kind} {artifact.name}" if artifact.name is not None else kind
            first = named + _version_suffix(getattr(artifact, "version", None))
            artifacts[artifact_id] = [first, str(artifact.uri)] + ([apart[artifact_id]] if artifact_id in apart else [])
        executions = {}
        for execution_id, info in self.executions.items():
            name = info.get("name") or info.get("type") or "execution"
            executions[execution_id] = [f"{name} #{execution_id}", str(info.get("state", ""))]
        return artifacts, executions

    def to_dot(self) -> str:
        """The graph in Graphviz's DOT language (data flows left to right)."""
        artifacts, executions = self._labels()
        lines = ["digraph lineage {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=11];']
        for artifact_id, label in artifacts.items():
            extra = ", penwidth=2" if artifact_id == self.root else ""
            lines.append(f'  a{artifact_id} [shape=box, style=rounded, label={_dot_label(label)}{extra}];')
        for execution_id, label in executions.items():
            color = _STATE_COLORS.get(label[1], "white")
            lines.append(f'  e{execution_id} [shape=ellipse, style=filled, fillcolor="{color}", label={_dot_label(label)}];')
        lines.extend(f"  {a} -> {b};" for a, b in self._node_edges())
        lines.append("}")
        return "\n".join(lines)

    def to_mermaid(self) -> str:
        """The graph as a Mermaid flowchart (renders in GitHub and JupyterLab Markdown)."""
        artifacts, executions = self._labels()
        lines = ["flowchart LR"]
        for artifact_id, label in artifacts.items():
            lines.append(f'  a{artifact_id}["{_mermaid_label(label)}"]')
        for execution_id, label in executions.items():
            lines.append(f'  e{execution_id}(["{_mermaid_label(label)}"])')
        lines.extend(f"  {a} --> {b}" for a, b in self._node_edges())
        return "\n".join(lines)

    def to_openlineage(self, producer: str = "https://pypi.org/project/mlmd-lineage/") -> List[Dict[str, Any]]:
        """One OpenLineage run event per execution (spec 2-0-2 ``RunEvent``).

        The job is the execution's name in its workspace's namespace; the
        run id a UUID made from the execution's external id (the same on
        every export; for an execution another tool wrote without one, from
        its id and creation time); datasets are named from their URIs
        (``s3://bucket/key`` -> namespace ``s3://bucket``, name ``key``).

        Raises:
            InvalidTypeError: *producer* is not a str (the URI of the producer).
        """
        if not isinstance(producer, str) or not producer:
            raise InvalidTypeError(
                f"to_openlineage(producer) must be the producer's URI (a non-empty str), got {describe(producer)}"
            )
        events = []
        _, inputs_of, outputs_of = self._by_node()
        for execution_id, info in self.executions.items():
            props = info.get("properties") or {}
            # Without an external id (written by another tool): its id and
            # MLMD's creation time, so two stores' execution 5 differ.
            identity = info.get("external_id") or f"mlmd-execution:{execution_id}:{info.get('create_time_ms')}"
            events.append(
                {
                    "eventType": _OPENLINEAGE_STATES.get(str(info.get("state")), "OTHER"),
                    "eventTime": props.get("lineage.end_time") or info.get("create_time") or _iso(info.get("last_update_time_ms")),
                    "producer": producer,
                    "schemaURL": "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent",
                    "run": {"runId": str(uuid.uuid5(uuid.NAMESPACE_URL, str(identity)))},
                    "job": {"namespace": info.get("workspace") or "default", "name": str(info.get("name") or info.get("type") or "execution")},
                    "inputs": [self._dataset(a) for a in inputs_of.get(execution_id, []) if a in self.artifacts],
                    "outputs": [self._dataset(a) for a in outputs_of.get(execution_id, []) if a in self.artifacts],
                }
            )
        return events

    def _dataset(self, artifact_id: int) -> Dict[str, Any]:
        uri = str(self.artifacts[artifact_id].uri)
        # RFC 3986's own reading (appendix B): it never raises (urlsplit did,
        # on a "[" in the host: the whole export failed) and drops nothing
        # (urlsplit took tabs and newlines out: two uris, one dataset).
        parts = _split_uri(uri)
        if parts.scheme and parts.netloc:
            # Without the user and password of https://user:pw@host/x: events
            # go to other systems, and one dataset is one dataset whoever read it.
            host = parts.netloc.rpartition("@")[2]
            namespace, name = f"{parts.scheme}://{host}", parts.path.lstrip("/") or "/"
        elif parts.scheme and len(parts.scheme) > 1:  # file:///path
            namespace, name = parts.scheme, parts.path
        else:  # a plain path
            return {"namespace": "file", "name": uri}
        # s3://b/k?versionId=3 and ?versionId=4 are two datasets
        name += (f"?{parts.query}" if parts.query else "") + (f"#{parts.fragment}" if parts.fragment else "")
        return {"namespace": namespace, "name": name}

    # ------------------------------------------------------------------ notebooks

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Dict[str, str]:
        """What Jupyter and IPython show: a drawing if Graphviz can make one,
        and the tree."""
        tree = self.to_text()
        bundle = {"text/plain": tree}
        svg = self._svg()
        shown = f"<pre>{html.escape(tree)}</pre>"
        if svg is not None:
            bundle["image/svg+xml"] = svg
            shown = f"<div>{svg}</div><details><summary>as text</summary>{shown}</details>"
        bundle["text/html"] = shown
        return bundle

    def _svg(self) -> Optional[str]:
        try:
            import graphviz  # the optional "graph" extra; its dot program too

            return str(graphviz.Source(self.to_dot()).pipe(format="svg", encoding="utf-8"))
        except Exception:  # not installed, no dot program, or it failed: the tree only
            return None


_STATE_COLORS = {"COMPLETE": "#d9f2d9", "CACHED": "#d9f2d9", "FAILED": "#f8d0d0", "CANCELED": "#eeeeee", "RUNNING": "#fff2cc"}
_OPENLINEAGE_STATES = {"COMPLETE": "COMPLETE", "CACHED": "COMPLETE", "FAILED": "FAIL", "CANCELED": "ABORT", "RUNNING": "RUNNING", "NEW": "START"}


# Not XML: Graphviz put them in its SVG as they were (and a NUL ended the DOT).
_DOT_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Graphviz reads no quoted string past 16,384 bytes: 3,000 characters are at
# most 15,000 bytes escaped ("&" is "&amp;").
_DOT_PIECE = 3000


def _dot_label(lines: List[str]) -> str:
    """A DOT string: quotes and backslashes escaped, one label line per item,
    control characters shown as escapes, in pieces joined by DOT's "+"."""
    text = _DOT_CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), "\n".join(lines).replace("\r", ""))
    # "&" too: Graphviz reads HTML entities in any label ("R&amp;D" was drawn "R&D").
    escaped = [
        text[i : i + _DOT_PIECE].replace("&", "&amp;").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        for i in range(0, max(len(text), 1), _DOT_PIECE)
    ]
    return " + ".join(f'"{piece}"' for piece in escaped)


def _mermaid_label(lines: List[str]) -> str:
    """Text inside a Mermaid ``"..."`` label: entity codes for what Mermaid reads as syntax."""
    out = []
    for line in lines:
        # A backquote after the opening quote starts a Markdown string; labels
        # are drawn as HTML, where "&amp;" is "&".
        for char, code in (("#", "#35;"), ("&", "#38;"), ('"', "#quot;"), ("<", "#lt;"), (">", "#gt;"), ("`", "#96;")):
            line = line.replace(char, code)
        out.append(line.replace("\r", "").replace("\n", "<br/>"))
    return "<br/>".join(out)


_URI = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#(.*))?\Z", re.DOTALL)


def _split_uri(uri: str) -> urllib.parse.SplitResult:
    match = _URI.match(uri)
    assert match is not None  # every group is optional
    scheme, netloc, path, query, fragment = (group or "" for group in match.groups())
    return urllib.parse.SplitResult(scheme.lower(), netloc, path, query, fragment)


def _iso(milliseconds: Any) -> Optional[str]:
    """MLMD's milliseconds since the epoch as RFC 3339 (UTC)."""
    if not isinstance(milliseconds, int) or milliseconds <= 0:
        return None
    import datetime

    moment = datetime.datetime.fromtimestamp(milliseconds / 1000, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _line(text: str) -> str:
    """*text* on one line: control characters (a newline in a name) and
    backslashes escaped, other characters as they are ("modèle", not "mod\\xe8le")."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() and c != "\\" else c.encode("unicode_escape").decode("ascii") for c in text)


def _version_suffix(version: Any) -> str:
    """" v3" for version "3", " v1.2" for "v1.2" (not "vv1.2"), " release-1"
    for "release-1" (not "vrelease-1": only a version that starts with a digit
    gets the "v"); "" for none."""
    if version is None or version == "":
        return ""
    text = str(version)
    return f" v{text}" if text[:1].isdigit() else f" {text}"


def _apart_by_digest(items: Iterable[Tuple[int, Any, Any]]) -> Dict[int, str]:
    """The short content digest (see _short_digest) of each of *items*,
    (id, what its line shows but the id, stored digest or None), that
    another one shows alike with other content: two iris.csv rows of other
    bytes looked the same. The others have none: a digest on every line
    made each longer for nothing."""
    groups: Dict[Any, List[Tuple[int, Any]]] = {}
    for item_id, shown, digest in items:
        groups.setdefault(shown, []).append((item_id, digest if isinstance(digest, str) and digest else None))
    out: Dict[int, str] = {}
    for members in groups.values():
        if len({digest for _, digest in members}) > 1:  # a file not digested is another content too
            out.update((item_id, _short_digest(digest)) for item_id, digest in members if digest is not None)
    return out


def _short_digest(digest: str) -> str:
    """"sha256:" and the first 12 hex digits: enough to tell two apart."""
    algorithm, _, hexdigits = digest.rpartition(":")
    return _line(f"{algorithm}:{hexdigits[:12]}" if algorithm else digest[:12])


def _error_of(info: Dict[str, Any]) -> str:
    """Why an execution FAILED or was CANCELED, "RuntimeError: disk full",
    from lineage's properties; "" for none. The tree left lineage's
    properties out, and with them the reason: a FAILED step said only that."""
    props = info.get("properties") or {}
    kind, message = props.get("lineage.error_type"), props.get("lineage.error_message")
    return ": ".join(str(part) for part in (kind, message) if part not in (None, ""))


def _shown(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)
    if len(text) <= _SHOWN_MAX:
        return text
    return f"{text[:_SHOWN_MAX - 1]}… ({len(text):,} chars)"


def build(root: int, upstream: Dict[str, Any]) -> LineageGraph:
    return LineageGraph(
        root=root,
        artifacts=dict(upstream["artifacts"]),
        executions=dict(upstream["executions"]),
        edges=list(upstream["edges"]),
        artifact_types=dict(upstream.get("artifact_types", {})),
        truncated=bool(upstream.get("truncated", False)),
        digests=dict(upstream.get("digests", {})),
    )


def _check_id(method: str, argument: str, value: Any) -> int:
    """*value* as a node's id (an int, or an integer numpy or pandas gives:
    np.int64 from a DataFrame of ids), else raise: anything else (a record,
    "3") was looked up, found nowhere, and answered like a source."""
    if type(value) is int:
        return value
    if not isinstance(value, bool):
        try:
            return operator.index(value)
        except TypeError:
            pass
    hint = f" (its .id is {value.id})" if isinstance(value, Artifact) and value.id is not None else ""
    raise InvalidTypeError(f"{method}({argument}) must be an id (an int), got {describe(value)}{hint}")


def _artifact_id(artifact: Any) -> Optional[int]:
    if isinstance(artifact, Artifact):
        return artifact.id
    if isinstance(artifact, int) and not isinstance(artifact, bool):
        return artifact
    return None
