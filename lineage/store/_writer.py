"""Writes: one atomic ``put_execution`` each, idempotent, retried.

A write carries an execution (new or by id), the artifacts logged with it as
input or output events, and the execution's contexts (workspace, run). It is
one MLMD transaction whatever the number of artifacts.

Idempotence and deduplication rest on ``external_id``s:

* deduplicated artifacts (DataSet, Model) get a key derived from their type,
  uri, name, version and workspace, so "the same" artifact is found by an
  indexed lookup and two processes logging it at once end with one row;
* every other node gets a client-made random external id, so a write that is
  sent twice (a lost response, a replayed spool) is recognized.

Nothing here lists a whole type or table, and no user string ever reaches a
``filter_query``.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple, Union

import attrs
from ml_metadata import errors as mlmd_errors
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage.errors import (
    InvalidTypeError,
    StoreError,
    UnknownArtifactError,
    WorkspaceExistsError,
    describe,
)
from lineage.records import Artifact, schema_of
from lineage.store import _codec as codec
from lineage.store._backend import Backend, _first_line

__all__ = ["ContextRef", "ExecutionHandle", "Writer", "INPUT", "OUTPUT"]

log = logging.getLogger("lineage.store")

INPUT = pb.Event.INPUT
OUTPUT = pb.Event.OUTPUT
_DECLARED = {INPUT: pb.Event.DECLARED_INPUT, OUTPUT: pb.Event.DECLARED_OUTPUT}

_STATES = {
    "RUNNING": pb.Execution.RUNNING,
    "COMPLETE": pb.Execution.COMPLETE,
    "FAILED": pb.Execution.FAILED,
    "CANCELED": pb.Execution.CANCELED,
    "CACHED": pb.Execution.CACHED,
    "NEW": pb.Execution.NEW,
}

PathStep = Union[str, int]
#: (record, event type INPUT/OUTPUT, event path steps)
Logged = Tuple[Artifact, int, Sequence[PathStep]]


@attrs.define(eq=False)
class ContextRef:
    """A workspace or run context as stored."""

    id: int
    name: str
    proto: pb.Context = attrs.field(repr=False)


@attrs.define(eq=False)
class ExecutionHandle:
    """The client-side state of one execution between writes."""

    proto: pb.Execution = attrs.field(repr=False)
    contexts: List[pb.Context] = attrs.field(repr=False)
    workspace: Optional[str]
    run: Optional[str]
    logged: Set[Tuple[int, int]] = attrs.field(factory=set)
    lock: threading.Lock = attrs.field(factory=threading.Lock, repr=False)

    @property
    def id(self) -> Optional[int]:
        return self.proto.id if self.proto.HasField("id") else None

    @property
    def external_id(self) -> str:
        return self.proto.external_id

    @property
    def state(self) -> str:
        return pb.Execution.State.Name(self.proto.last_known_state)


def _event(event_type: int, path: Sequence[PathStep], artifact_id: Optional[int] = None) -> pb.Event:
    event = pb.Event(type=event_type)
    if artifact_id is not None:
        event.artifact_id = artifact_id
    for step in path:
        if isinstance(step, int) and not isinstance(step, bool):
            event.path.steps.add(index=step)
        else:
            event.path.steps.add(key=str(step))
    return event


class Writer:
    """Turns records into ``put_execution`` calls on one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.mangle = backend.url.mangles_backslashes
        # external_id -> artifact id, for artifacts this process has written
        # or seen, so a re-logged artifact costs no lookup.
        self._ids_by_key: Dict[str, int] = {}
        self._known_ids: Set[int] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ contexts

    def workspace(
        self,
        name: str,
        description: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
        reuse: bool = True,
    ) -> ContextRef:
        """Get or create a workspace context.

        Raises:
            WorkspaceExistsError: it exists and *reuse* is false.
        """
        type_id = self.backend.type_id("context", codec.workspace_type())
        stored_name = codec.encode(name, self.mangle)
        existing = self._context_by_name(codec.WORKSPACE_TYPE_NAME, stored_name)
        if existing is None:
            proto = codec.workspace_context(type_id, name, description, labels, self.mangle)
            existing, created = self._create_context(proto, codec.WORKSPACE_TYPE_NAME)
            if created:
                return ContextRef(id=existing.id, name=name, proto=existing)
        if not reuse:
            raise WorkspaceExistsError(
                f"Workspace name {name} already exists with id {existing.id}. You can initialize "
                "workspace with reuse_workspace_if_exists=True if want to reuse it"
            )
        return ContextRef(id=existing.id, name=name, proto=existing)

    def run(self, workspace: ContextRef, name: str, description: Optional[str] = None) -> ContextRef:
        """Get or create a run context, a child of its workspace context."""
        type_id = self.backend.type_id("context", codec.run_type())
        proto = codec.run_context(type_id, workspace.name, name, description, self.mangle)
        existing = self._context_by_name(codec.RUN_TYPE_NAME, proto.name)
        if existing is None:
            existing, created = self._create_context(proto, codec.RUN_TYPE_NAME)
            if created:
                link = pb.ParentContext(child_id=existing.id, parent_id=workspace.id)
                try:
                    self.backend.call("put_parent_contexts", [link])
                except mlmd_errors.AlreadyExistsError:
                    pass
                except mlmd_errors.StatusError as exc:
                    raise StoreError(f"cannot link run {name!r} to its workspace: {_first_line(exc)}", cause=exc) from exc
        return ContextRef(id=existing.id, name=name, proto=existing)

    def _context_by_name(self, type_name: str, stored_name: str) -> Optional[pb.Context]:
        try:
            return self.backend.call("get_context_by_type_and_name", type_name, stored_name)
        except mlmd_errors.NotFoundError:
            return None
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"cannot read context {stored_name!r}: {_first_line(exc)}", cause=exc) from exc

    def _create_context(self, proto: pb.Context, type_name: str) -> Tuple[pb.Context, bool]:
        try:
            [context_id] = self.backend.call("put_contexts", [proto])
        except mlmd_errors.AlreadyExistsError:
            # Created by another process between our read and write.
            existing = self._context_by_name(type_name, proto.name)
            if existing is None:
                raise StoreError(f"context {proto.name!r} exists but cannot be read") from None
            return existing, False
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"cannot create context {proto.name!r}: {_first_line(exc)}", cause=exc) from exc
        stored = pb.Context()
        stored.CopyFrom(proto)
        stored.id = context_id
        return stored, True

    # ------------------------------------------------------------------ executions

    def new_execution(
        self,
        name: str,
        *,
        workspace: Optional[ContextRef],
        run: Optional[ContextRef] = None,
        description: Optional[str] = None,
        create_time: str,
        type_name: str = codec.EXECUTION_TYPE_NAME,
        external_id: Optional[str] = None,
    ) -> ExecutionHandle:
        """Prepare an execution (RUNNING); nothing is written until :meth:`write`."""
        type_id = self.backend.type_id("execution", codec.execution_type(type_name))
        proto = codec.execution_to_proto(
            type_id,
            name=name,
            description=description,
            create_time=create_time,
            workspace=workspace.name if workspace else None,
            run=run.name if run else None,
            external_id=external_id or codec.new_external_id("execution"),
            mangle=self.mangle,
        )
        contexts = [ref.proto for ref in (workspace, run) if ref is not None]
        return ExecutionHandle(
            proto=proto,
            contexts=contexts,
            workspace=workspace.name if workspace else None,
            run=run.name if run else None,
        )

    def write(
        self,
        handle: ExecutionHandle,
        inputs: Iterable[Logged] = (),
        outputs: Iterable[Logged] = (),
        *,
        state: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
    ) -> None:
        """Write the execution with new events in one transaction.

        Sets ``id`` on every logged record. Logging an artifact a second time
        with the same event type is a no-op (MLMD rejects duplicate events).

        Raises:
            InvalidTypeError: something logged is not a lineage record.
            UnknownArtifactError: a record carries an id the store lacks.
            StoreUnavailableError: the store could not be reached.
            StoreError: the store refused the write.
        """
        items = [(r, INPUT, p) for r, _, p in _typed(inputs, INPUT)] + [
            (r, OUTPUT, p) for r, _, p in _typed(outputs, OUTPUT)
        ]
        with handle.lock:
            execution = pb.Execution()
            execution.CopyFrom(handle.proto)
            if state is not None:
                execution.last_known_state = _STATES[state]
            if properties:
                codec.set_custom(execution, properties, self.mangle)
            pairs, bindings = self._prepare(handle, items)
            result = self._put(handle, execution, pairs, bindings)
            execution_id, artifact_ids = result
            execution.id = execution_id
            handle.proto = execution
            for (record, event_type, key), artifact_id in zip(bindings, artifact_ids):
                record.id = artifact_id
                handle.logged.add((artifact_id, event_type))
                with self._lock:
                    self._known_ids.add(artifact_id)
                    if key is not None:
                        self._ids_by_key[key] = artifact_id

    # ------------------------------------------------------------------ internals

    def _prepare(
        self, handle: ExecutionHandle, items: List[Tuple[Artifact, int, Sequence[PathStep]]]
    ) -> Tuple[List[Tuple[Optional[pb.Artifact], pb.Event]], List[Tuple[Artifact, int, Optional[str]]]]:
        pairs: List[Tuple[Optional[pb.Artifact], pb.Event]] = []
        bindings: List[Tuple[Artifact, int, Optional[str]]] = []
        seen: Set[Tuple[Any, int]] = set()
        lookups: Dict[str, List[int]] = {}
        unverified: List[int] = []
        for record, event_type, path in items:
            schema = schema_of(type(record))
            if record.id is not None:
                if (record.id, event_type) in handle.logged or (record.id, event_type) in seen:
                    continue
                seen.add((record.id, event_type))
                if record.id not in self._known_ids:
                    unverified.append(record.id)
                pairs.append((None, _event(event_type, path, record.id)))
                bindings.append((record, event_type, None))
                continue
            type_id = self.backend.type_id("artifact", codec.artifact_type(schema))
            if schema.deduplicate:
                key = codec.dedup_key(schema, record, handle.workspace)
            else:
                key = codec.new_external_id("artifact")
            if (key, event_type) in seen:
                continue
            seen.add((key, event_type))
            known = self._ids_by_key.get(key)
            if known is not None:
                if (known, event_type) in handle.logged:
                    record.id = known
                    continue
                pairs.append((None, _event(event_type, path, known)))
                bindings.append((record, event_type, key))
                continue
            proto = codec.artifact_to_proto(
                record, type_id, workspace=handle.workspace, run=handle.run, external_id=key, mangle=self.mangle
            )
            if schema.deduplicate:
                lookups.setdefault(key, []).append(len(pairs))
            pairs.append((proto, _event(event_type, path)))
            bindings.append((record, event_type, key))
        if unverified:
            self._verify_ids(unverified)
        if lookups:
            # One indexed read for every deduplicated artifact not seen yet;
            # the stored artifact is referenced, never overwritten.
            found = self._call_store("get_artifacts_by_external_ids", list(lookups))
            drop: Set[int] = set()
            for artifact in found:
                for index in lookups.get(artifact.external_id, ()):
                    record, event_type, key = bindings[index]
                    if (artifact.id, event_type) in handle.logged:
                        record.id = artifact.id
                        drop.add(index)
                        continue
                    event = pairs[index][1]
                    event.artifact_id = artifact.id
                    pairs[index] = (None, event)
            if drop:
                pairs = [p for i, p in enumerate(pairs) if i not in drop]
                bindings = [b for i, b in enumerate(bindings) if i not in drop]
        return pairs, bindings

    def _verify_ids(self, ids: List[int]) -> None:
        found = {a.id for a in self._call_store("get_artifacts_by_id", ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UnknownArtifactError(f"invalid artifact id {missing[0]}: the store holds no artifact with this id")
        with self._lock:
            self._known_ids.update(found)

    def _call_store(self, method: str, *args: Any) -> Any:
        try:
            return self.backend.call(method, *args)
        except mlmd_errors.NotFoundError:
            # MLMD's list lookups answer NotFound for "no match".
            return []
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"{method} failed: {_first_line(exc)}", cause=exc) from exc

    def _put(
        self,
        handle: ExecutionHandle,
        execution: pb.Execution,
        pairs: List[Tuple[Optional[pb.Artifact], pb.Event]],
        bindings: List[Tuple[Artifact, int, Optional[str]]],
    ) -> Tuple[int, List[int]]:
        for attempt in range(3):
            try:
                execution_id, artifact_ids, _ = self.backend.call(
                    "put_execution",
                    execution,
                    pairs,
                    handle.contexts,
                    reuse_context_if_already_exist=True,
                    reuse_artifact_if_already_exist_by_external_id=True,
                )
                return execution_id, list(artifact_ids)
            except mlmd_errors.AlreadyExistsError as exc:
                # An earlier attempt committed but its answer was lost, or a
                # concurrent writer got there first: reconcile and resend.
                if attempt == 2:
                    raise StoreError(f"put_execution failed: {_first_line(exc)}", cause=exc) from exc
                pairs, bindings[:] = self._reconcile(execution, pairs, bindings)
            except mlmd_errors.StatusError as exc:
                raise StoreError(f"put_execution failed: {_first_line(exc)}", cause=exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _reconcile(
        self,
        execution: pb.Execution,
        pairs: List[Tuple[Optional[pb.Artifact], pb.Event]],
        bindings: List[Tuple[Artifact, int, Optional[str]]],
    ) -> Tuple[List[Tuple[Optional[pb.Artifact], pb.Event]], List[Tuple[Artifact, int, Optional[str]]]]:
        if not execution.HasField("id"):
            stored = self._call_store("get_executions_by_external_ids", [execution.external_id])
            if not stored:
                return pairs, bindings
            execution.id = stored[0].id
        keys = [artifact.external_id for artifact, _ in pairs if artifact is not None]
        by_key = {a.external_id: a.id for a in self._call_store("get_artifacts_by_external_ids", keys)} if keys else {}
        existing = {
            (e.artifact_id, e.type) for e in self._call_store("get_events_by_execution_ids", [execution.id])
        }
        kept_pairs, kept_bindings = [], []
        for (artifact, event), binding in zip(pairs, bindings):
            artifact_id = event.artifact_id if artifact is None else by_key.get(artifact.external_id)
            if artifact_id is not None and (artifact_id, event.type) in existing:
                binding[0].id = artifact_id
                continue
            if artifact is not None and artifact_id is not None:
                event.artifact_id = artifact_id
                artifact = None
            kept_pairs.append((artifact, event))
            kept_bindings.append(binding)
        return kept_pairs, kept_bindings


def _typed(items: Iterable[Any], event_type: int) -> List[Logged]:
    out: List[Logged] = []
    for item in items:
        if isinstance(item, tuple):
            record, path = item[0], (item[1] if len(item) > 1 else ())
        else:
            record, path = item, ()
        if not isinstance(record, Artifact):
            raise InvalidTypeError(
                f"artifact must be a lineage.Artifact (DataSet, Model, Metrics or a custom type), got {describe(record)}"
            )
        if isinstance(path, (str, int)):
            path = (path,)
        out.append((record, event_type, tuple(path or ())))
    return out
