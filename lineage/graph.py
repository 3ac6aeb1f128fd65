"""The lineage of an artifact, as a small graph you can print or export.

``store.lineage(model)`` gives a :class:`LineageGraph` of everything
upstream of *model*: the executions that produced it, their inputs, the
executions that produced those, and so on.
"""

from __future__ import annotations

import json
from typing import Any, Dict, List, Optional, Set, Tuple

import attrs

from lineage.records import Artifact

__all__ = ["LineageGraph"]

_SKIP_PARAMS_PREFIX = ("lineage.", "__kf_")


@attrs.define
class LineageGraph:
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
    """

    root: int
    artifacts: Dict[int, Artifact]
    executions: Dict[int, Dict[str, Any]]
    edges: List[Tuple[int, int, str]]
    artifact_types: Dict[int, str] = attrs.Factory(dict)
    truncated: bool = False

    def type_name(self, artifact_id: int) -> str:
        """The artifact's MLMD type name."""
        stored = self.artifact_types.get(artifact_id)
        if stored:
            return stored
        artifact = self.artifacts.get(artifact_id)
        return type(artifact).ARTIFACT_TYPE_NAME if artifact is not None else Artifact.ARTIFACT_TYPE_NAME

    def producers(self, artifact_id: int) -> List[int]:
        """Executions that output the artifact."""
        return sorted({e for a, e, kind in self.edges if a == artifact_id and kind.endswith("OUTPUT")})

    def inputs(self, execution_id: int) -> List[int]:
        """Artifacts the execution took as input."""
        return sorted({a for a, e, kind in self.edges if e == execution_id and kind.endswith("INPUT")})

    def to_dict(self) -> Dict[str, Any]:
        """A JSON-able dict of the graph."""
        return {
            "root": self.root,
            "truncated": self.truncated,
            "artifacts": [
                {"id": a.id, "type": self.type_name(a.id), "name": a.name, "uri": a.uri,
                 "version": getattr(a, "version", None)}
                for a in self.artifacts.values()
            ],
            "executions": list(self.executions.values()),
            "edges": [{"artifact": a, "execution": e, "type": t} for a, e, t in self.edges],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), default=str, **kwargs)

    def _artifact_line(self, artifact_id: int) -> str:
        artifact = self.artifacts.get(artifact_id)
        if artifact is None:
            return f"artifact #{artifact_id}"
        version = getattr(artifact, "version", None)
        kind = type(artifact).__name__
        if type(artifact) is Artifact and self.artifact_types.get(artifact_id):  # a type of another tool
            kind = self.artifact_types[artifact_id]
        shown = f"{_line(kind)} {artifact.name!r}" + (f" version {_line(str(version))}" if version else "")
        return f"{shown} #{artifact_id}  {_line(artifact.uri)}"

    def _execution_line(self, execution_id: int) -> str:
        info = self.executions.get(execution_id, {})
        params = {k: v for k, v in (info.get("properties") or {}).items() if not k.startswith(_SKIP_PARAMS_PREFIX)}
        shown = " ".join(f"{_line(k)}={_line(_shown(v))}" for k, v in sorted(params.items()))
        name = info.get("name") or info.get("type") or "execution"
        return f"{_line(str(name))} #{execution_id} {info.get('state', '')}" + (f"  {shown}" if shown else "")

    def to_text(self) -> str:
        """An indented tree, newest artifact first, walking upstream."""
        lines: List[str] = [self._artifact_line(self.root)]
        seen: Set[int] = set()
        # (artifact?, id, prefix, last): a stack, not recursion, so that a
        # chain of thousands of steps prints like a short one.
        stack: List[Tuple[bool, int, str, bool]] = []

        def push_producers(artifact_id: int, prefix: str) -> None:
            producers = self.producers(artifact_id)
            for i, execution_id in reversed(list(enumerate(producers))):
                stack.append((False, execution_id, prefix, i == len(producers) - 1))

        push_producers(self.root, "")
        while stack:
            is_artifact, node, prefix, last = stack.pop()
            branch, child = prefix + ("└─ " if last else "├─ "), prefix + ("   " if last else "│  ")
            if is_artifact:
                lines.append(branch + self._artifact_line(node))
                push_producers(node, child)
                continue
            again = node in seen
            lines.append(branch + self._execution_line(node) + ("  (see above)" if again else ""))
            if again:
                continue
            seen.add(node)
            inputs = self.inputs(node)
            for i, artifact_id in reversed(list(enumerate(inputs))):
                stack.append((True, artifact_id, child, i == len(inputs) - 1))
        if self.truncated:
            lines.append("… (more upstream: the walk stopped at max_depth)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def _line(text: str) -> str:
    """*text* on one line: control characters (a newline in a name) escaped."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


def _shown(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (list, dict)) else str(value)


def build(root: int, upstream: Dict[str, Any]) -> LineageGraph:
    return LineageGraph(
        root=root,
        artifacts=dict(upstream["artifacts"]),
        executions=dict(upstream["executions"]),
        edges=list(upstream["edges"]),
        artifact_types=dict(upstream.get("artifact_types", {})),
        truncated=bool(upstream.get("truncated", False)),
    )


def _artifact_id(artifact: Any) -> Optional[int]:
    if isinstance(artifact, Artifact):
        return artifact.id
    if isinstance(artifact, int) and not isinstance(artifact, bool):
        return artifact
    return None
