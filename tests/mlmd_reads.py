"""Read what was recorded straight from MLMD (no lineage reader in between)."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from ml_metadata.proto import metadata_store_pb2 as pb

import lineage


def value(v: pb.Value) -> Any:
    which = v.WhichOneof("value")
    if which == "struct_value":
        from google.protobuf import json_format

        return json_format.MessageToDict(v.struct_value)
    return getattr(v, which) if which else None


def executions(store: lineage.Store, name: str = None) -> List[pb.Execution]:
    """Executions (optionally of one name), oldest first."""
    found = [e for e in store.store.get_executions() if name is None or e.properties["name"].string_value == name]
    return sorted(found, key=lambda e: e.id)


def one_execution(store: lineage.Store, name: str) -> pb.Execution:
    found = executions(store, name)
    assert len(found) == 1, f"expected one execution {name!r}, found {len(found)}"
    return found[0]


def state(execution: pb.Execution) -> str:
    return pb.Execution.State.Name(execution.last_known_state)


def custom(execution: Any) -> Dict[str, Any]:
    return {k: value(v) for k, v in execution.custom_properties.items()}


def events(store: lineage.Store, execution_id: int) -> List[Tuple[str, Tuple[Any, ...], pb.Artifact]]:
    """(INPUT/OUTPUT, path, artifact) for one execution, sorted by type and path."""
    found = store.store.get_events_by_execution_ids([execution_id])
    artifacts = {a.id: a for a in store.store.get_artifacts_by_id([e.artifact_id for e in found])} if found else {}
    out = []
    for event in found:
        path = tuple(s.key if s.HasField("key") else s.index for s in event.path.steps)
        out.append((pb.Event.Type.Name(event.type), path, artifacts[event.artifact_id]))
    return sorted(out, key=lambda t: (t[0], [str(p) for p in t[1]]))


def paths(store: lineage.Store, execution_id: int) -> List[Tuple[str, Tuple[Any, ...], str]]:
    """(INPUT/OUTPUT, path, uri) for one execution."""
    return [(kind, path, artifact.uri) for kind, path, artifact in events(store, execution_id)]


def contexts(store: lineage.Store, execution_id: int) -> Dict[str, str]:
    """Context type name -> context name, for one execution."""
    out = {}
    for ctx in store.store.get_contexts_by_execution(execution_id):
        [ctx_type] = store.store.get_context_types_by_id([ctx.type_id])
        out[ctx_type.name] = ctx.name
    return out
