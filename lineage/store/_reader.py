"""Reads: artifacts as records, workspace listings, events, lineage.

Only direct lookups (by id, external id, type and name, context) are used;
no user string is ever put into an MLMD ``filter_query``.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Set

from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage import records
from lineage.errors import StoreError
from lineage.records import Artifact
from lineage.store import _codec as codec
from lineage.store._backend import Backend, _first_line

__all__ = ["Reader"]


class Reader:
    """Read-side queries on one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._type_names: Dict[int, str] = {}
        self._described: Set[int] = set()  # type ids a record class was looked for (see _describe)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return self.backend.call(method, *args, **kwargs)
        except mlmd_errors.NotFoundError:
            return None
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"{method} failed: {_first_line(exc)}", cause=exc) from exc

    def artifact_type_name(self, type_id: int) -> str:
        name = self._type_names.get(type_id)
        if name is None:
            types = self._call("get_artifact_types_by_id", [type_id]) or []
            name = types[0].name if types else ""
            self._type_names[type_id] = name
        return name

    def records(self, protos: Sequence[pb.Artifact]) -> List[Artifact]:
        return [self._record(p, p.type or self.artifact_type_name(p.type_id)) for p in protos]

    def _record(self, proto: Any, type_name: str) -> Artifact:
        if proto.type_id not in self._described:
            self._describe(proto.type_id, type_name)
        return codec.artifact_from_proto(proto, type_name)

    def _describe(self, type_id: int, type_name: str) -> None:
        """Make a record class for a stored type no class of this process
        describes (records.class_for_stored_type): a class made at run time
        (a Kubeflow SDK-style artifact's) in the process that logged, or a
        class not imported here, read its records as plain Artifact records,
        their fields in ``extra`` and their type name lost. Once per type
        and reader: a read of the type, on reads only."""
        if records.record_class_for(type_name) is None:
            types = self._call("get_artifact_types_by_id", [type_id]) or []
            if types and types[0].name == type_name:
                records.class_for_stored_type(type_name, codec.declared_kinds(types[0]))
        self._described.add(type_id)

    def artifacts(self, ids: Sequence[int]) -> List[Artifact]:
        """Records for artifact ids (missing ids are left out)."""
        return self.records(self._call("get_artifacts_by_id", list(ids)) or [])

    def artifact(self, artifact_id: int) -> Optional[Artifact]:
        found = self.artifacts([artifact_id])
        return found[0] if found else None

    def artifacts_by_uri(self, uri: str) -> List[Artifact]:
        mangle = self.backend.mangles_backslashes()
        stored = codec.encode(uri, mangle)
        # The Kubeflow SDK stored a uri with a U+E000 unescaped: looked for too
        forms = [stored, codec.as_another_client_stores(stored, mangle)]
        found = [p for form in forms if form is not None for p in self._call("get_artifacts_by_uri", form) or []]
        # MySQL compares strings case-insensitively and ignores trailing
        # spaces: keep exact matches only.
        return self.records([p for p in found if p.uri == (stored if codec.escaped_by_lineage(p) else uri)])

    def list_workspace(self, workspace_id: int, type_name: Optional[str], home: Optional[str] = None) -> List[Dict[str, Any]]:
        """Flat dicts of the artifacts of one type attributed to a workspace.

        Args:
            type_name: None for every type (each row then names its type
                under ``"type"``, or ``"lineage.type"`` for a record with a
                field named ``type``: codec.name_type).
            home: Keep only artifacts whose own workspace (``__kf_workspace__``,
                where they were first logged) is this one, as the Kubeflow
                SDK's ``Workspace.list`` does; None keeps the inputs used
                there too.
        """
        artifact_type = None if type_name is None else self._call("get_artifact_type", type_name)
        if type_name is not None and (artifact_type is None or artifact_type.name != type_name):
            return []  # MySQL answers for "a/Type" with "a/type": not that type's artifacts
        protos = self._call("get_artifacts_by_context", workspace_id, _by_id()) or []
        if artifact_type is None:
            type_ids = sorted({p.type_id for p in protos})
            names = {t.id: t.name for t in (self._call("get_artifact_types_by_id", type_ids) if type_ids else None) or ()}
            rows = []
            for proto in protos:
                row = codec.flat(proto)
                codec.name_type(row, names.get(proto.type_id, str(proto.type_id)))
                rows.append(row)
        else:
            protos = [p for p in protos if p.type_id == artifact_type.id]
            rows = [codec.flat(p) for p in protos]
        if home is not None:
            rows = [row for row in rows if row.get("workspace") == home]
        else:
            # lineage ls: an artifact of another tool's type is named by MLMD's
            # own name, as its record is (it was listed as "None"). Not in
            # Workspace.list's dicts: the Kubeflow SDK's have no such name.
            for row, proto in zip(rows, protos):
                if row.get("name") is None and proto.name:
                    row["name"] = codec.decoder_for(proto)(proto.name)
                # Its content digest, under the store's names (reserved: no
                # field of a record has one): two iris.csv of other bytes differ.
                row.update(codec.digest_properties(proto))
        return rows

    def events_of_executions(self, execution_ids: Sequence[int]) -> List[Dict[str, Any]]:
        return [_event_dict(e) for e in self._call("get_events_by_execution_ids", list(execution_ids)) or []]

    def events_of_artifacts(self, artifact_ids: Sequence[int]) -> List[Dict[str, Any]]:
        return [_event_dict(e) for e in self._call("get_events_by_artifact_ids", list(artifact_ids)) or []]

    def executions(self, ids: Sequence[int]) -> List[Dict[str, Any]]:
        return [codec.execution_summary(e) for e in self._call("get_executions_by_id", list(ids)) or []]

    def executions_of_context(self, context_id: int) -> List[Dict[str, Any]]:
        return [codec.execution_summary(e) for e in self._call("get_executions_by_context", context_id, _by_id()) or []]

    def workspace(self, name: str) -> Optional[Dict[str, Any]]:
        mangle = self.backend.mangles_backslashes()
        stored = codec.encode(name, mangle)
        ctx = self._call("get_context_by_type_and_name", codec.WORKSPACE_TYPE_NAME, stored)
        if ctx is None and stored != name:
            # The Kubeflow SDK's, stored as given (see Writer._workspace_as_given)
            as_given = codec.as_another_client_stores(stored, mangle)
            if as_given is not None and not codec.in_escaped_form(as_given):
                stored = as_given
                ctx = self._call("get_context_by_type_and_name", codec.WORKSPACE_TYPE_NAME, stored)
        if ctx is None or ctx.name != stored:  # MySQL: "Exp" is found for "exp"
            return None
        return codec.context_summary(ctx)

    def workspaces(self) -> List[Dict[str, Any]]:
        return [codec.context_summary(c) for c in self._call("get_contexts_by_type", codec.WORKSPACE_TYPE_NAME) or []]

    def contexts_of_execution(self, execution_id: int) -> List[Dict[str, Any]]:
        return [codec.context_summary(c) for c in self._call("get_contexts_by_execution", execution_id) or []]

    def parent_contexts(self, context_id: int) -> List[Dict[str, Any]]:
        return [codec.context_summary(c) for c in self._call("get_parent_contexts_by_context", context_id) or []]

    def upstream(self, artifact_id: int, max_depth: Optional[int] = None) -> Dict[str, Any]:
        """Everything upstream of an artifact: the executions that produced it,
        their inputs, the executions that produced those, and so on.

        Args:
            max_depth: Levels of executions to follow (None: all of them;
                every execution is read once, so cycles end).

        Returns:
            ``{"artifacts": {id: record}, "artifact_types": {id: stored
            type name}, "digests": {id: content digest properties (see
            codec.digest_properties), for those that have one},
            "executions": {id: summary}, "edges":
            [(artifact_id, execution_id, type)], "truncated": bool}`` (the
            artifacts of every edge, other outputs of those executions
            too); one batched read per level, never a scan.
        """
        artifacts: Dict[int, Any] = {}
        executions: Dict[int, Dict[str, Any]] = {}
        edges: List[Any] = []
        frontier = [artifact_id]
        seen_artifacts = {artifact_id}
        truncated = False
        depth = 0
        while frontier:
            events = self._call("get_events_by_artifact_ids", frontier) or []
            producers = sorted({e.execution_id for e in events if e.type in _OUTPUTS} - set(executions))
            if not producers:
                break
            if max_depth is not None and depth >= max_depth:
                truncated = True  # there is more upstream, not followed
                break
            depth += 1
            # In id order: PostgreSQL answers in another order than SQLite
            # (the exports of one graph differed from one backend to another).
            for summary in sorted(self.executions(producers), key=lambda summary: summary["id"]):
                executions[summary["id"]] = summary
            inputs = self._call("get_events_by_execution_ids", producers) or []
            frontier = []
            # By execution (as SQLite answers), each one's as written:
            # PostgreSQL and MySQL answer in the order the events were written.
            for event in sorted(inputs, key=lambda event: event.execution_id):
                edges.append((event.artifact_id, event.execution_id, codec.event_type_name(event)))
                if event.type in _INPUTS and event.artifact_id not in seen_artifacts:
                    seen_artifacts.add(event.artifact_id)
                    frontier.append(event.artifact_id)
        types: Dict[int, str] = {}
        digests: Dict[int, Dict[str, Any]] = {}
        protos = self._call("get_artifacts_by_id", sorted(seen_artifacts | {a for a, _, _ in edges})) or []
        for proto in sorted(protos, key=lambda proto: proto.id):
            type_name = proto.type or self.artifact_type_name(proto.type_id)
            artifacts[proto.id] = self._record(proto, type_name)
            types[proto.id] = type_name
            digest = codec.digest_properties(proto)  # not in the record: see codec.digest_properties
            if digest:
                digests[proto.id] = digest
        return {
            "artifacts": artifacts, "artifact_types": types, "digests": digests, "executions": executions, "edges": edges,
            "truncated": truncated,
        }


# PENDING_OUTPUT: what a running execution is writing (TFX registers its
# outputs so); the graph's edges count it as an output too.
_OUTPUTS = (pb.Event.OUTPUT, pb.Event.DECLARED_OUTPUT, pb.Event.INTERNAL_OUTPUT, pb.Event.PENDING_OUTPUT)
_INPUTS = (pb.Event.INPUT, pb.Event.DECLARED_INPUT, pb.Event.INTERNAL_INPUT)


def _event_dict(event: pb.Event) -> Dict[str, Any]:
    return {
        "artifact_id": event.artifact_id,
        "execution_id": event.execution_id,
        "type": codec.event_type_name(event),
        "path": codec.event_path(event),
        "time": event.milliseconds_since_epoch,
    }


def _by_id() -> metadata_store.ListOptions:
    """Every page in id order. MLMD's default pages by creation time then
    id, and on MySQL, with concurrent writers (ids and times in different
    orders), a page boundary skipped rows: 399 of 400 executions."""
    return metadata_store.ListOptions(order_by=metadata_store.OrderByField.ID, is_asc=True)
