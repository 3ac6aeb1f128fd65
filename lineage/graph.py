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
    """

    root: int
    artifacts: Dict[int, Artifact]
    executions: Dict[int, Dict[str, Any]]
    edges: List[Tuple[int, int, str]]

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
            "artifacts": [
                {"id": a.id, "type": type(a).ARTIFACT_TYPE_NAME, "name": a.name, "uri": a.uri,
                 "version": getattr(a, "version", None)}
                for a in self.artifacts.values()
            ],
            "executions": [
                {k: v for k, v in e.items() if k != "properties"} for e in self.executions.values()
            ],
            "edges": [{"artifact": a, "execution": e, "type": t} for a, e, t in self.edges],
        }

    def to_json(self, **kwargs: Any) -> str:
        return json.dumps(self.to_dict(), default=str, **kwargs)

    def _artifact_line(self, artifact_id: int) -> str:
        artifact = self.artifacts.get(artifact_id)
        if artifact is None:
            return f"artifact #{artifact_id}"
        version = getattr(artifact, "version", None)
        shown = f"{type(artifact).__name__} {artifact.name!r}" + (f" version {version}" if version else "")
        return f"{shown} #{artifact_id}  {artifact.uri}"

    def _execution_line(self, execution_id: int) -> str:
        info = self.executions.get(execution_id, {})
        params = {
            k: v for k, v in (info.get("properties") or {}).items()
            if not k.startswith(_SKIP_PARAMS_PREFIX) and not isinstance(v, dict)
        }
        shown = " ".join(f"{k}={v}" for k, v in sorted(params.items()))
        return f"{info.get('name', 'execution')} #{execution_id} {info.get('state', '')}" + (f"  {shown}" if shown else "")

    def to_text(self) -> str:
        """An indented tree, newest artifact first, walking upstream."""
        lines: List[str] = [self._artifact_line(self.root)]
        seen: Set[Tuple[str, int]] = set()

        def walk_artifact(artifact_id: int, prefix: str) -> None:
            producers = self.producers(artifact_id)
            for i, execution_id in enumerate(producers):
                last = i == len(producers) - 1
                again = ("e", execution_id) in seen
                lines.append(prefix + ("└─ " if last else "├─ ") + self._execution_line(execution_id) + ("  (see above)" if again else ""))
                if again:
                    continue
                seen.add(("e", execution_id))
                walk_execution(execution_id, prefix + ("   " if last else "│  "))

        def walk_execution(execution_id: int, prefix: str) -> None:
            inputs = self.inputs(execution_id)
            for i, artifact_id in enumerate(inputs):
                last = i == len(inputs) - 1
                lines.append(prefix + ("└─ " if last else "├─ ") + self._artifact_line(artifact_id))
                walk_artifact(artifact_id, prefix + ("   " if last else "│  "))

        walk_artifact(self.root, "")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()


def build(root: int, upstream: Dict[str, Any]) -> LineageGraph:
    return LineageGraph(
        root=root,
        artifacts=dict(upstream["artifacts"]),
        executions=dict(upstream["executions"]),
        edges=list(upstream["edges"]),
    )


def _artifact_id(artifact: Any) -> Optional[int]:
    if isinstance(artifact, Artifact):
        return artifact.id
    if isinstance(artifact, int) and not isinstance(artifact, bool):
        return artifact
    return None
