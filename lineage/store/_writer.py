"""Writes: one atomic MLMD write each, idempotent, retried, spooled.

A write carries an execution (new, or known by id or external id), the
artifacts logged with it as input or output events, and the execution's
contexts (workspace, run). It is one MLMD transaction whatever the number of
artifacts: one ``put_execution``, or one ``put_lineage_subgraph`` where that
is cheaper and stores the same (see :meth:`Writer._send`).

Every write is first made into a :class:`PendingWrite` that needs nothing
from the store: types travel as type protos, contexts as names, new
artifacts as full protos with their external ids. The same object is
submitted to the store, or — when the store cannot be reached — appended to
the spool and submitted later, by a background thread or ``lineage sync``.

Idempotence and deduplication rest on ``external_id``s:

* deduplicated artifacts (DataSet, Model) get a key derived from their type,
  uri, name, version, workspace and content digest, so "the same" artifact
  is found by an indexed lookup and two processes logging it at once end
  with one row;
* every other node gets a client-made random external id, so a write that is
  sent twice (a lost response, a replayed spool) is recognized.

Nothing here lists a whole type or table, and no user string ever reaches a
``filter_query``.
"""

from __future__ import annotations

import base64
import itertools
import logging
import re
import threading
import time
import weakref
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple, Union

import attrs
from ml_metadata import errors as mlmd_errors
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage import records
from lineage._fork import renew_after_fork
from lineage.errors import (
    InvalidTypeError,
    InvalidValueError,
    StoreError,
    StoreUnavailableError,
    UnknownArtifactError,
    WorkspaceExistsError,
    describe,
    warn_never_raised,
)
from lineage.records import Artifact, schema_of
from lineage.store import _codec as codec
from lineage.store import _digest
from lineage.store._backend import Backend, _first_line

__all__ = ["ContextRef", "ContextSpec", "ExecutionHandle", "PendingContexts", "PendingWrite", "Writer", "INPUT", "OUTPUT"]

log = logging.getLogger("lineage.store")

INPUT = pb.Event.INPUT
OUTPUT = pb.Event.OUTPUT

_STATES = {
    "RUNNING": pb.Execution.RUNNING,
    "COMPLETE": pb.Execution.COMPLETE,
    "FAILED": pb.Execution.FAILED,
    "CANCELED": pb.Execution.CANCELED,
    "CACHED": pb.Execution.CACHED,
    "NEW": pb.Execution.NEW,
    "UNKNOWN": pb.Execution.UNKNOWN,
}

_TERMINAL = (pb.Execution.COMPLETE, pb.Execution.FAILED, pb.Execution.CANCELED, pb.Execution.CACHED)
#: How long "this store holds no Kubeflow SDK artifacts" is believed.
LEGACY_RECHECK_SECONDS = 30.0
#: The one filter_query lineage sends: a constant, no user text in it.
NO_EXTERNAL_ID = "external_id IS NULL"

PathStep = Union[str, int]
#: (record, event type INPUT/OUTPUT, event path steps)
#: (record, event type, event path, content digest taken when it was logged or None)
Logged = Tuple[Artifact, int, Sequence[PathStep], Optional[_digest.Digest]]
#: (record, event type, dedup key or None): where to put an id once known
Binding = Tuple[Artifact, int, Optional[str]]


# --------------------------------------------------------------------------- data


@attrs.define(eq=False)
class ContextSpec:
    """A workspace or run context by name: what is needed to find or make it."""

    kind: str  # "workspace" | "run"
    name: str
    workspace: Optional[str] = None  # a run's workspace
    description: Optional[str] = None
    labels: Optional[Dict[str, Any]] = None

    @property
    def key(self) -> Tuple[str, Optional[str], str]:
        return (self.kind, self.workspace, self.name)


@attrs.define(eq=False)
class ContextRef:
    """A workspace or run context as stored."""

    id: int
    name: str
    proto: pb.Context = attrs.field(repr=False)
    #: Whether the lookup that gave it made it (a spooled context's replay
    #: says "present" otherwise, as a write's does).
    created: bool = attrs.field(default=False, repr=False)
    #: The context as the write finds it (shared: not to be modified).
    by_name: pb.Context = attrs.field(
        init=False, repr=False, default=attrs.Factory(lambda self: _by_name(self.proto), takes_self=True)
    )


@attrs.define(eq=False)
class ExecutionHandle:
    """The client-side state of one execution between writes."""

    proto: pb.Execution = attrs.field(repr=False)
    execution_type: pb.ExecutionType = attrs.field(repr=False)
    contexts: List[ContextSpec] = attrs.field(repr=False)
    workspace: Optional[str]
    run: Optional[str]
    logged: Set[Tuple[int, int]] = attrs.field(factory=set)
    lock: threading.RLock = attrs.field(factory=threading.RLock, repr=False)

    @property
    def id(self) -> Optional[int]:
        return self.proto.id if self.proto.HasField("id") else None

    @property
    def external_id(self) -> str:
        return self.proto.external_id

    @property
    def state(self) -> str:
        return pb.Execution.State.Name(self.proto.last_known_state)


@attrs.define(eq=False)
class Pair:
    """One event of a write, with the artifact when it is not known by id."""

    event: pb.Event
    artifact: Optional[pb.Artifact] = None
    artifact_type: Optional[pb.ArtifactType] = None
    deduplicate: bool = False
    binding: Optional[Binding] = None  # in-process only: the record to update
    # in-process only: what the record held when this write was prepared
    # (see _identity); its stamp when the write lands, maybe after a replay
    held: Optional[Tuple[Any, ...]] = None
    # An input, a local file whose content could not be digested here
    # (missing on this host, hashing off): its key lacks the digest the
    # stored one may have, so it is also looked for by uri (type, name,
    # version, workspace). Not an output: a file a call says it made but
    # that is not there is no earlier artifact.
    by_uri: bool = False
    # In-process only: other records of the write that are the same artifact
    # (equal, not the same object), sent once; they get its id too.
    aliases: List[Artifact] = attrs.Factory(list)
    alias_held: List[Tuple[Any, ...]] = attrs.Factory(list)  # what each held when prepared


@attrs.define(eq=False)
class PendingWrite:
    """A write that needs nothing from the store to be described.

    ``to_json``/``from_json`` give the spool's on-disk form (protos as
    base64 of their wire encoding); ``handle`` and pair bindings are
    in-process only, so ids can be set once the write lands.
    """

    execution: pb.Execution
    execution_type: pb.ExecutionType
    contexts: List[ContextSpec]
    pairs: List[Pair]
    handle: Optional[ExecutionHandle] = None

    #: The key of a spool entry that holds it.
    JOURNAL_KEY = "write"

    def to_json(self) -> Dict[str, Any]:
        return {
            "execution": _b64(self.execution),
            "execution_type": _b64(self.execution_type),
            "contexts": [attrs.asdict(c) for c in self.contexts],
            "pairs": [
                {
                    "event": _b64(p.event),
                    "artifact": _b64(p.artifact) if p.artifact is not None else None,
                    "artifact_type": _b64(p.artifact_type) if p.artifact_type is not None else None,
                    "deduplicate": p.deduplicate,
                    **({"by_uri": True} if p.by_uri else {}),
                }
                for p in self.pairs
            ],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PendingWrite:
        return cls(
            execution=_unb64(pb.Execution, data["execution"]),
            execution_type=_unb64(pb.ExecutionType, data["execution_type"]),
            contexts=[ContextSpec(**c) for c in data["contexts"]],
            pairs=[
                Pair(
                    event=_unb64(pb.Event, p["event"]),
                    artifact=_unb64(pb.Artifact, p["artifact"]) if p.get("artifact") else None,
                    artifact_type=_unb64(pb.ArtifactType, p["artifact_type"]) if p.get("artifact_type") else None,
                    deduplicate=bool(p.get("deduplicate")),
                    by_uri=bool(p.get("by_uri")),
                )
                for p in data["pairs"]
            ],
        )

    @property
    def external_id(self) -> str:
        return self.execution.external_id


@attrs.define(eq=False)
class PendingContexts:
    """Contexts to find or make, with nothing else to write: a Workspace()
    or Run() made while the store was down (or while writes wait in the
    spool). Spooled as a write is, in order, so that it is made even if
    nothing is ever logged to it, and before any later Workspace() of the
    same name, as it would have been with the store up (the first made is
    the one reused). A run's entry names its workspace first.

    Journaled under its own key (see JOURNAL_KEY): code older than it reads
    such a line as an entry without a write, reports it and keeps the file.
    """

    contexts: List[ContextSpec]

    #: The key of a spool entry that holds it (a PendingWrite's is "write").
    JOURNAL_KEY = "contexts"

    def to_json(self) -> List[Dict[str, Any]]:
        return [attrs.asdict(c) for c in self.contexts]

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> PendingContexts:
        return cls(contexts=[ContextSpec(**c) for c in data])


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString(deterministic=True)).decode("ascii")


def _unb64(cls: Any, text: str) -> Any:
    message = cls()
    message.ParseFromString(base64.b64decode(text))
    return message


#: (event type, path, mangle) -> the event without its artifact, copied for
#: each event a write sends (paths repeat: one per parameter or return slot).
_event_templates: Dict[Tuple[int, Tuple[PathStep, ...], bool], pb.Event] = {}


# An event path index is an int64 in MLMD's proto, but a 32-bit INT column
# on PostgreSQL and MySQL (they refuse more: "integer out of range"); one
# limit for every backend, so a store can move. A larger int (a dict key,
# a timestamp in milliseconds) is kept as a key.
PATH_INDEX_MIN, PATH_INDEX_MAX = -(2**31), 2**31 - 1


def _event(event_type: int, path: Sequence[PathStep], artifact_id: Optional[int] = None, mangle: bool = False) -> pb.Event:
    event = pb.Event()
    event.CopyFrom(_event_template(event_type, path, mangle))
    if artifact_id is not None:
        event.artifact_id = artifact_id
    return event


def _event_template(event_type: int, path: Sequence[PathStep], mangle: bool) -> pb.Event:
    """The event of *event_type* at *path* (shared: not to be modified; a
    write that only sends it, MLMD copying it into its request, needs no copy)."""
    # Only plain str and int steps are cached: 1, 1.0 and True are equal keys.
    # The common path, one name (a parameter's, "return"), is told at once.
    plain = (len(path) == 1 and type(path[0]) is str) or all(type(step) is str or type(step) is int for step in path)
    key = (event_type, tuple(path), mangle) if plain else None
    template = _event_templates.get(key) if key is not None else None
    if template is None:
        template = pb.Event(type=event_type)
        for step in path:
            if isinstance(step, int) and not isinstance(step, bool) and PATH_INDEX_MIN <= step <= PATH_INDEX_MAX:
                template.path.steps.add(index=step)
            else:
                template.path.steps.add(key=codec.encode(str(step), mangle))
        if key is not None:
            if len(_event_templates) >= 4096:  # paths made on the fly (dict keys): stay bounded
                _event_templates.clear()
            _event_templates[key] = template
    return template


# gRPC's refusal of a message over the server's limit (RESOURCE_EXHAUSTED).
_TOO_LARGE = re.compile(r"Received message larger than max \((\d+) vs\. (\d+)\)")


def _too_large(exc: StoreError, url: str, spooled: bool) -> Optional[StoreError]:
    """The error for a write the gRPC store at *url* refused as larger than
    it takes in one message, saying the size and the limit; None for any
    other refusal."""
    found = _TOO_LARGE.search(str(exc.cause)) if isinstance(exc.cause, mlmd_errors.ResourceExhaustedError) else None
    if found is None:
        return None
    size, limit = (int(n) for n in found.groups())
    # (Spooled, the spool's warning says where it is kept.)
    where = "`lineage sync --into URL` can store it in another store" if spooled else "not stored"
    return StoreError(
        f"the write is {size:,} bytes, more than the {limit:,} bytes the gRPC server of {url} takes in one message; {where}",
        cause=exc.cause,
    )


# --------------------------------------------------------------------------- writer

#: Entries kept in each of the writer's id caches. They only save reads: a
#: forgotten entry costs one indexed lookup later, never a wrong answer.
CACHE_LIMIT = 10_000


class _Bounded(dict):  # type: ignore[type-arg]
    """A dict that forgets its oldest tenth when it reaches *limit* entries."""

    def __init__(self, limit: int = CACHE_LIMIT) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        if len(self) >= self.limit and key not in self:
            self._forget(max(1, self.limit // 10))
        super().__setitem__(key, value)

    def prune(self) -> None:
        """After entries were set with ``dict.__setitem__`` (a batch): forget
        the oldest tenth if the limit was reached."""
        if len(self) >= self.limit:
            self._forget(len(self) - self.limit + max(1, self.limit // 10))

    def _forget(self, count: int) -> None:
        for old in list(itertools.islice(iter(self), count)):
            del self[old]


# id(record) -> (weakref, the id it was given, what it held then: see
# _identity), for the records this process logged (any store): one changed
# since (its uri set to the next file's) is a new artifact, not the one its
# stale id names. An id a user sets on another record is taken as it is.
_stamps = _Bounded()
_stamps_lock = threading.Lock()
renew_after_fork(globals(), "_stamps_lock")


def _stamp(stamped: List[Tuple[Artifact, int, Tuple[Any, ...]]], writer: Any) -> None:
    put = dict.__setitem__
    with _stamps_lock:
        for record, artifact_id, held in stamped:
            put(_stamps, id(record), (weakref.ref(record), artifact_id, held, writer))
        _stamps.prune()


def _own_stamp(record: Artifact) -> Optional[Tuple[Any, ...]]:
    """*record*'s stamp if this process gave it the id it holds; None for
    no id, an id a user set, or one read back (taken as it is)."""
    stamp = _stamps.get(id(record))
    if stamp is None or stamp[0]() is not record or stamp[1] != record.id:
        return None
    return stamp  # type: ignore[no-any-return]


def _logged_for_copy(record: Artifact) -> Optional[Tuple[Any, ...]]:
    """What a copy or pickle of *record* carries (see records.copy_hooks): its
    stamp, when this process gave it its id."""
    stamp = _own_stamp(record)
    if stamp is None:
        return None
    # and the digest of the local file it was written with: a copy of it
    # rewritten since is a new artifact too, as the record is (see _content_changed)
    noted = _record_digests_for(stamp[3]).get(id(record))
    if noted is None or noted[0]() is not record:
        return stamp[1], stamp[2], stamp[3]
    return stamp[1], stamp[2], stamp[3], noted[1]


def _stamp_copy(record: Artifact, logged: Any) -> None:
    """Stamp a copy as its original was (before its fields are set: the
    stamp is checked against its id when it is logged)."""
    try:
        artifact_id, held, token, *noted = logged
    except (TypeError, ValueError):  # a pickle of another version: taken as an id a user set
        return
    _stamp([(record, artifact_id, held)], token)
    if len(noted) == 1:
        codec.keep_while_alive(_record_digests_for(token), record, noted[0])


records.copy_hooks = (_logged_for_copy, _stamp_copy)


def _give_ids(given: Iterable[Tuple[Artifact, int, Optional[Tuple[Any, ...]]]], writer: Any) -> None:
    """Set each record's id, one the store gave (no need for the field's
    validator), and its stamp: what it held (see _identity; now, if None)."""
    stamped = []
    for record, artifact_id, held in given:
        object.__setattr__(record, "id", artifact_id)
        stamped.append((record, artifact_id, held or _identity(record)))
    _stamp(stamped, writer)


def changed_since_logged(record: Artifact, writer: Any = None) -> bool:
    """Whether *record*, which has an id, names another artifact than the
    one its id is: its uri, name or version set anew since this process
    logged it, or (given the *writer* it goes to) its id is of another
    store this process logged it to. Logging it then writes a new artifact
    (callers check the record first: see records.check_current)."""
    stamp = _own_stamp(record)
    if stamp is None:
        return False  # not logged by this process with this id (an id a user set, or read back)
    return stamp[2] != _identity(record) or (writer is not None and stamp[3] != writer)


def referenced_id(record: Artifact) -> Optional[Tuple[int, Any]]:
    """The id logging *record* now would reference it by, and the store that
    id is of (None: an id a user set, or read back, taken as it is); None
    when logging it writes it (no id, or its uri, name or version set anew
    since this process logged it)."""
    if record.id is None:
        return None
    stamp = _own_stamp(record)
    if stamp is None:
        return record.id, None
    if stamp[2] != _identity(record):
        return None
    return record.id, stamp[3]


def id_given_for(record: Artifact, identity: Tuple[Any, ...], writer: Any) -> Optional[int]:
    """The id *writer*'s store gave *record* when it held *identity* (its
    uri, name and version), if that is what its stamp says; else None."""
    stamp = _own_stamp(record)
    if stamp is None or stamp[3] != writer:
        return None
    return stamp[1] if stamp[2] == (type(record),) + tuple(identity) else None


def written_when_logged(record: Artifact, writer: Any = None) -> bool:
    """Whether logging *record* writes it (else it is referenced by its id):
    no id, or changed since this process logged it (its uri set anew), or
    logged to another store than *writer*'s (when known)."""
    return record.id is None or changed_since_logged(record, writer)


def _identity(record: Artifact) -> Tuple[Any, ...]:
    """What makes *record* the artifact it is (the Kubeflow SDK's rule, less
    the workspace and content a record does not hold)."""
    return (type(record), record.uri, record.name, getattr(record, "version", None))


def _by_uri(schema: Any, digest: Any, event_type: int, uri: str) -> bool:
    """Whether a new record is looked for by uri (see Pair.by_uri): a
    deduplicated input whose local file could not be digested here, also
    a relative path not on disk here (taken for a name, it has no digest)."""
    if not schema.deduplicate or event_type != INPUT:
        return False
    return digest.scope == "skipped" or (digest.scope is None and _digest.may_be_missing_path(uri))


def _pair_keys(pair: Pair) -> Tuple[str, ...]:
    """The keys an artifact of a write is known by: the external id it was
    sent with, and the record's own key when that differs."""
    external = pair.artifact.external_id if pair.artifact is not None else None
    key = pair.binding[2] if pair.binding is not None else None
    keys = (external,) if external else ()
    return keys + (key,) if key is not None and key != external else keys


def _by_name(context: pb.Context) -> pb.Context:
    """A context as the write's reuse_context_if_already_exist finds it:
    by type and name. Sent with its id, MLMD would update the stored context
    (read and rewrite its properties) in every write."""
    return pb.Context(type_id=context.type_id, name=context.name)


#: New artifacts from which a write is one ``put_lineage_subgraph`` rather
#: than one ``put_execution``. Measured with raw MLMD 1.17.1 (same protos,
#: alternating, 2-core VM), put_execution / subgraph time, SQLite WAL file:
#: 0.98 for no artifact, 0.99 for 1 or 2, 1.04 for 3, 1.09 for 5, 1.13 for
#: 10, 1.18 for 40; PostgreSQL 15: 0.95 for 1, 1.02 for 2, 1.06 for 3,
#: 1.07 for 5, 1.12 for 10.
SUBGRAPH_FROM = 3


_SKIPPED = "skipped"
# store token (see Writer._token) -> id(record) -> (weakref, the content digest
# it was written or found with): one per store, as the stamps are, not per
# Writer (a new Writer for the store, a path spelled another way, keeps them).
_digests_by_store: Dict[Any, Dict[int, Tuple[Any, str]]] = {}


def _record_digests_for(token: Any) -> Dict[int, Tuple[Any, str]]:
    with _stamps_lock:
        return _digests_by_store.setdefault(token, {})


class Writer:
    """Turns records into one MLMD write each on one backend."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self._lock = threading.Lock()
        renew_after_fork(self, "_lock")
        # external_id -> artifact id, for artifacts this process has written
        # or seen, so a re-logged artifact costs no lookup.
        # Bounded, so that a long-lived process logging new artifacts does not grow.
        self._ids_by_key: _Bounded = _Bounded()
        # new_execution's protos, without their id, external id and time
        self._execution_templates: Dict[Tuple[Any, ...], pb.Execution] = {}
        self._known_ids: _Bounded = _Bounded()  # artifact ids known to exist
        self._contexts: Dict[Tuple[str, Optional[str], str], ContextRef] = {}
        # id(record) -> (weakref, external id, what it held: see _identity):
        # a record whose write went to the spool keeps its external id if it
        # is logged again unchanged.
        self._record_keys: Dict[int, Tuple[Any, Optional[str], Optional[Tuple[Any, ...]], Dict[Any, str]]] = {}
        # id(record) -> (weakref, content digest it was written with): a
        # deduplicated record logged again after its file was rewritten is a
        # new artifact, not the one its id names (see _content_changed).
        # The store whose ids a stamp holds (see _stamps): the same database
        # however spelled or reconnected (a new writer after a fork or
        # recording()) is one store.
        self._token = backend.url._identity()
        self._record_digests = _record_digests_for(self._token)
        # Whether the store holds artifacts without an external id (the
        # Kubeflow SDK's), and when that was last asked (see _legacy_store).
        self._legacy: Optional[bool] = None
        self._legacy_asked = 0.0
        self._spool: Any = None

    @property
    def mangle(self) -> bool:
        """Whether backslashes are escaped for this store (see Backend). While
        writes wait in the spool the service is not asked (a probe of a
        service that never answers held the call for its deadline)."""
        return self._mangling()[0]

    def _mangling(self) -> Tuple[bool, Optional[StoreUnavailableError]]:
        """:attr:`mangle`, and what a probe that found the service
        unreachable met (a write then goes to the spool at once)."""
        known = self.backend._mangles
        if known is not None:
            return known, None
        try:
            # While writes wait in the spool, the service is not asked.
            return self.backend.check_mangling(probe=not self.spooling()), None
        except StoreUnavailableError as exc:
            return True, exc

    # ------------------------------------------------------------------ spool

    @property
    def spool(self) -> Any:
        """This process's spool for this store (made on first use)."""
        with self._lock:
            if self._spool is None:
                from lineage.store._spool import Spool

                self._spool = Spool(self.backend.url, self)
            return self._spool

    def declared_kinds(self, type_name: str) -> Optional[Dict[str, str]]:
        """The property kinds the store's artifact type *type_name* declares
        (see codec.declared_kinds); None when it has no such type, or cannot
        be asked now (the write will find out)."""
        if self.spooling():
            return None
        try:
            stored = self.backend.run(lambda s: s.get_artifact_type(type_name), what="get_artifact_type")
        except (mlmd_errors.NotFoundError, StoreUnavailableError):
            return None
        if stored.name != type_name:
            return None  # another type's, of a name equal on MySQL: the write names it (Backend.type_id)
        return codec.declared_kinds(stored)

    def spooling(self) -> bool:
        """True while writes wait in the spool (new writes queue behind them)."""
        spool = self._spool
        return spool is not None and spool.pending()

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
        if existing is None and stored_name != name:
            existing = self._workspace_as_given(stored_name)
        created = False
        if existing is None:
            proto = codec.workspace_context(type_id, name, description, labels, self.mangle)
            existing, created = self._create_context(proto, codec.WORKSPACE_TYPE_NAME)
        if not created and not reuse:
            raise WorkspaceExistsError(
                f"Workspace name {name} already exists with id {existing.id}. You can initialize "
                "workspace with reuse_workspace_if_exists=True if want to reuse it"
            )
        ref = ContextRef(id=existing.id, name=name, proto=existing, created=created)
        with self._lock:
            self._contexts[("workspace", None, name)] = ref
        return ref

    def _workspace_as_given(self, stored_name: str) -> Optional[pb.Context]:
        """The workspace the Kubeflow SDK made under a name lineage escapes
        (a U+E000 in it), stored as given; None when there is none, or when
        that form is lineage's escaped name of another workspace (a context
        has no external id to tell: those stay apart, as before)."""
        as_given = codec.as_another_client_stores(stored_name, self.mangle)
        if as_given is None or codec.in_escaped_form(as_given):
            return None
        return self._context_by_name(codec.WORKSPACE_TYPE_NAME, as_given)

    def run(self, workspace: Union[ContextRef, ContextSpec], name: str, description: Optional[str] = None) -> ContextRef:
        """Get or create a run context, a child of its workspace context."""
        if isinstance(workspace, ContextSpec):
            workspace = self.resolve(workspace)
        type_id = self.backend.type_id("context", codec.run_type())
        proto = codec.run_context(type_id, workspace.name, name, description, self.mangle)
        existing = self._context_by_name(codec.RUN_TYPE_NAME, proto.name)
        created = False
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
        ref = ContextRef(id=existing.id, name=name, proto=existing, created=created)
        with self._lock:
            self._contexts[("run", workspace.name, name)] = ref
        return ref

    def resolve(self, spec: ContextSpec) -> ContextRef:
        """The stored context for a spec, made if missing (cached)."""
        ref = self._contexts.get(spec.key)
        if ref is not None:
            return ref
        if spec.kind == "workspace":
            return self.workspace(spec.name, spec.description, spec.labels, reuse=True)
        return self.run(ContextSpec("workspace", spec.workspace or "default"), spec.name, spec.description)

    def _context_by_name(self, type_name: str, stored_name: str) -> Optional[pb.Context]:
        try:
            found = self.backend.call("get_context_by_type_and_name", type_name, stored_name)
        except mlmd_errors.NotFoundError:
            return None
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"cannot read context {stored_name!r}: {_first_line(exc)}", cause=exc) from exc
        if found is not None and found.name != stored_name:
            # MySQL compares names case-insensitively and ignores trailing
            # spaces, so "Exp" answers for "exp"; MLMD's unique index would
            # refuse to create the second. Refuse it here, by name.
            raise InvalidValueError(
                f"{type_name.rsplit('/', 1)[-1]} name {codec.decode(stored_name)!r} collides with the existing "
                f"{codec.decode(found.name)!r} in this store (its collation ignores case and trailing spaces); "
                "choose a name that differs otherwise"
            )
        return found

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
        workspace: Optional[ContextSpec],
        run: Optional[ContextSpec] = None,
        description: Optional[str] = None,
        create_time: str,
        type_name: str = codec.EXECUTION_TYPE_NAME,
        external_id: Optional[str] = None,
        fixed: Tuple[Tuple[str, Any], ...] = (),
    ) -> ExecutionHandle:
        """Prepare an execution (RUNNING). Nothing is read or written.

        Args:
            fixed: Custom properties it has from the start, as (name, value)
                pairs (hashable: what is built from them is reused).
        """
        workspace_name = workspace.name if workspace else None
        run_name = run.name if run else None
        key = (type_name, name, description, workspace_name, run_name, self.mangle, fixed)
        template = self._execution_templates.get(key)
        if template is None:
            template = codec.execution_to_proto(
                0,
                name=name,
                description=description,
                create_time="",
                workspace=workspace_name,
                run=run_name,
                external_id="",
                mangle=self.mangle,
            )
            codec.set_custom(template, dict(fixed), self.mangle)
            if len(self._execution_templates) >= 1024:  # names made on the fly: stay bounded
                self._execution_templates.clear()
            self._execution_templates[key] = template
        proto = pb.Execution()
        proto.CopyFrom(template)
        proto.type_id = self.backend.cached_type_id("execution", type_name) or 0
        proto.external_id = external_id or codec.new_external_id("execution")
        proto.properties["create_time"].string_value = create_time
        return ExecutionHandle(
            proto=proto,
            execution_type=codec.execution_type(type_name),
            contexts=[spec for spec in (workspace, run) if spec is not None],
            workspace=workspace_name,
            run=run_name,
        )

    def write(
        self,
        handle: ExecutionHandle,
        inputs: Iterable[Any] = (),
        outputs: Iterable[Any] = (),
        *,
        state: Optional[str] = None,
        properties: Optional[Mapping[str, Any]] = None,
        spool: bool = True,
        logged: Optional[List[Logged]] = None,
    ) -> bool:
        """Write the execution with new events in one transaction.

        Sets ``id`` on every logged record. Logging an artifact a second time
        with the same event type is a no-op (MLMD rejects duplicate events).
        When the store cannot be reached the write goes to the spool (and
        ids stay None until it lands).

        Args:
            spool: False to raise StoreUnavailableError instead of spooling.
            logged: Instead of *inputs* and *outputs*: the records already
                as ``(record, event type, path tuple, digest or None)``, as
                an execution scope holds them (not made over again here).

        Returns:
            True if the write reached the store, False if it was spooled.

        Raises:
            InvalidTypeError: something logged is not a lineage record.
            UnknownArtifactError: a record carries an id the store lacks.
            StoreError: the store refused the write.
        """
        if logged is None:
            items = _typed(inputs, INPUT) + _typed(outputs, OUTPUT)
        else:
            for record, _, _, _ in logged:
                if not isinstance(record, Artifact):
                    raise _not_a_record(record)
            items = logged
        mangle, unreachable = self._mangling()
        with handle.lock:
            execution = pb.Execution()
            execution.CopyFrom(handle.proto)
            if state is not None:
                execution.last_known_state = _STATES[state]
            if properties:
                codec.set_custom(execution, properties, mangle)
            interrupted: Optional[KeyboardInterrupt] = None
            too_large: Optional[StoreError] = None  # as the store refused it: raised below, where it is kept
            if unreachable is None and not self.spooling():
                try:
                    if self._direct(handle, execution, items, mangle):
                        return True
                except StoreUnavailableError as exc:
                    unreachable = exc
                except StoreError as exc:
                    if _too_large(exc, self.backend.url.redacted(), spool) is None:
                        raise
                    too_large = exc
                except KeyboardInterrupt as exc:
                    if not spool:
                        raise
                    interrupted = exc
            pending = PendingWrite(
                execution=execution,
                execution_type=handle.execution_type,
                contexts=list(handle.contexts),
                pairs=self._prepare(handle, items, mangle),
                handle=handle,
            )
            # Keep the execution's latest full state: the next write sends it
            # whole (an update with a field missing would delete that field).
            handle.proto = execution
            if unreachable is None and self.spooling():
                if not spool:
                    raise self.spool.queued_behind()
                self.spool.append(pending)
                return False
            try:
                if interrupted is not None:
                    raise interrupted
                if unreachable is not None:
                    raise unreachable
                if too_large is not None:
                    raise too_large
                self.submit(pending)
            except StoreUnavailableError as exc:
                if not spool:
                    raise
                self.spool.append(pending, cause=exc)
                return False
            except StoreError as exc:
                # A write over a gRPC server's message limit was refused, and
                # lost: this store cannot take it, another can (lineage sync
                # --into). Kept in the spool: its replay here fails again,
                # and it stays there, reported by lineage sync.
                message = _too_large(exc, self.backend.url.redacted(), spool)
                if message is None:
                    raise
                if not spool:
                    raise message from exc.cause
                self.spool.append(pending, cause=message)
                return False
            except KeyboardInterrupt as exc:
                # Ctrl-C while the write was sent (a store slow to answer):
                # it may or may not have landed. Journaled, it is replayed
                # (in the background, at exit, by `lineage sync`) as one
                # whose answer was lost, and the interrupt goes on to the
                # caller: a with block's end was lost, RUNNING for good.
                if spool:
                    self.spool.append(pending, cause=exc)
                raise
            return True

    def _direct(self, handle: ExecutionHandle, execution: pb.Execution, items: List[Logged], mangle: bool) -> bool:
        """The common write, sent without the general path's bookkeeping.

        Taken when nothing in it needs a decision: every record is new to
        this process (no id, a key not seen), of a type registered here and
        known not to hold Kubeflow SDK artifacts, and the contexts and the
        execution type are resolved. It sends what :meth:`_prepare` and
        :meth:`submit` would send (tests/test_writer.py compares them).

        Returns:
            True if written; False if not taken (or the store already holds
            part of it): then the general path runs.

        Raises:
            StoreUnavailableError: the store did not answer (nothing written).
            StoreError: the store refused the write.
        """
        if not execution.type_id:
            return False
        contexts = []
        for spec in handle.contexts:
            ref = self._contexts.get(spec.key)
            if ref is None:
                return False
            contexts.append(ref.by_name)
        pairs: List[Tuple[pb.Artifact, pb.Event]] = []
        bindings: List[Tuple[Artifact, int, str]] = []
        keys: Set[str] = set()
        ids_by_key, type_ids = self._ids_by_key, self.backend.cached_type_id
        legacy = not self._no_legacy_known()
        workspace, run = handle.workspace, handle.run
        for record, event_type, path, taken in items:
            if record.id is not None:
                return False
            schema = schema_of(type(record))
            type_id = type_ids("artifact", schema.type_name, codec.artifact_type(schema))
            if not type_id or (schema.deduplicate and legacy):
                return False
            digest = taken if taken is not None else _digest.of_record(record)
            if _by_uri(schema, digest, event_type, record.uri):
                return False  # looked for by uri first (see Pair.by_uri)
            key = self._record_key(record, schema, workspace, digest.digest)
            if key in ids_by_key or key in keys:
                return False
            self._note_digest(record, schema, digest)
            proto = codec.artifact_to_proto(record, type_id, workspace=workspace, run=run, external_id=key, mangle=mangle)
            if digest is not _digest.NONE:
                codec.set_custom(proto, digest.properties(), mangle)
            # The shared event as it is: MLMD copies it into its request.
            pairs.append((proto, _event_template(event_type, path, mangle)))
            bindings.append((record, event_type, key))
            keys.add(key)
        # As on the general path: the next write sends this state whole.
        handle.proto = execution
        try:
            execution_id, artifact_ids = self._send(execution, pairs, contexts, all_new=True)
        except mlmd_errors.AlreadyExistsError:
            return False  # the general path references what is stored
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"the store refused the write: {_first_line(exc)}", cause=exc) from exc
        execution.id = execution_id
        self._remember_new(bindings, artifact_ids, handle)
        return True

    def _remember_new(
        self, bindings: List[Tuple[Artifact, int, str]], artifact_ids: Sequence[int], handle: ExecutionHandle
    ) -> None:
        """:meth:`_remember` for a direct write: every record new, known by
        one key, and stamped with what it holds now. The same entries, set
        in the same order under the same locks, in one pass without the
        general path's generators (tests/test_writer.py compares them)."""
        known, by_key, put, logged = self._known_ids, self._ids_by_key, dict.__setitem__, handle.logged
        stamped = []
        with self._lock:
            for (_, event_type, key), artifact_id in zip(bindings, artifact_ids):
                logged.add((artifact_id, event_type))
                put(known, artifact_id, True)
                put(by_key, key, artifact_id)
            known.prune()
            by_key.prune()
            # As _give_ids: under the writer's lock (see _remember).
            for (record, _, _), artifact_id in zip(bindings, artifact_ids):
                object.__setattr__(record, "id", artifact_id)
                stamped.append((record, artifact_id, _identity(record)))
            _stamp(stamped, self._token)

    def _note_digest(self, record: Artifact, schema: Any, digest: _digest.Digest) -> None:
        """Keep the content digest a deduplicated *record* naming a local file
        is written (or found) with, while it lives ("skipped" when it was not
        digested, a file missing then: bytes it has later are new)."""
        if digest is _digest.NONE or not schema.deduplicate:
            return
        codec.keep_while_alive(self._record_digests, record, digest.digest or _SKIPPED)

    def _content_changed(self, record: Artifact, taken: Optional[_digest.Digest]) -> bool:
        """Whether *record*, which has an id this process gave it, names a
        local file whose bytes are no longer those it was written with."""
        noted = self._record_digests.get(id(record))
        if noted is None or noted[0]() is not record:
            return False
        if _own_stamp(record) is None:
            return False  # an id a user set: taken as it is
        now = taken if taken is not None else _digest.of_record(record)
        return now.digest is not None and now.digest != noted[1]

    def _bind(self, record: Artifact, artifact_id: int, held: Optional[Tuple[Any, ...]] = None) -> None:
        """Give *record* the id of a stored artifact, and its stamp (see _stamps)."""
        _give_ids([(record, artifact_id, held)], self._token)

    def _changed_since_logged(self, record: Artifact) -> bool:
        return changed_since_logged(record, self._token)

    def _record_key(self, record: Artifact, schema: Any, workspace: Optional[str], digest: Optional[str]) -> str:
        if schema.deduplicate:
            return codec.dedup_key(schema, record, workspace, digest)
        # Looked up and made under one lock: the same new record written by
        # two threads at once must get one key (else two artifacts).
        # A record changed since it got its key (its uri set anew while its
        # write waited in the spool) is another artifact: a new key.
        identity = _identity(record)
        with self._lock:
            remembered = self._keys_of(record)
            if remembered is not None and remembered[2] == identity and remembered[1] is not None:
                return remembered[1]
            earlier = remembered[3] if remembered is not None else {}
            # What it held before, and a copy was sent for (see key_as_logged): that artifact
            key = earlier.get(identity) or codec.new_external_id("artifact")
            self._remember_key(record, key, identity, earlier)
        return key

    def _keys_of(self, record: Artifact) -> Optional[Tuple[Any, Optional[str], Optional[Tuple[Any, ...]], Dict[Any, str]]]:
        """What _record_keys holds for *record* (not for a dead one whose id it reuses)."""
        remembered = self._record_keys.get(id(record))
        return remembered if remembered is not None and remembered[0]() is record else None

    def _forgotten_with(self, record: Artifact) -> Optional[weakref.ref]:  # type: ignore[type-arg]
        """A weak reference to *record* that drops its keys when it dies;
        None for a record class without weakref support."""
        rid = id(record)
        try:
            return weakref.ref(record, lambda _: self._record_keys.pop(rid, None))
        except TypeError:
            return None

    def _remember_key(self, record: Artifact, key: str, identity: Tuple[Any, ...], earlier: Dict[Any, str]) -> bool:
        """Under self._lock: *record*'s key is *key* (what it holds now is
        *identity*); *earlier*: the keys it had for what it held before (for
        key_as_logged), kept with it (the last 16)."""
        ref = self._forgotten_with(record)
        if ref is None:
            return False
        self._record_keys[id(record)] = (ref, key, identity, _keys_with(earlier, identity, key))
        return True

    def stored_as_ended(self, execution_id: int) -> bool:
        """Whether the store holds execution *execution_id* in a final state
        (one read, no retry; False when it cannot say now)."""
        try:
            with self.backend._lock:
                found = self.backend.mlmd.get_executions_by_id([execution_id])
        except Exception:  # down, or an MLMD too old: not known
            return False
        return bool(found) and found[0].last_known_state in _TERMINAL

    def key_as_logged(self, copy: Artifact, record: Artifact, identity: Tuple[Any, ...]) -> None:
        """*copy* is *record* as it was when it held *identity* (its uri,
        name and version: see _scope._as_it_was): the copy gets the key the
        record had (or has since had) for that, so that every copy of it, and
        the record itself written then, are one artifact. A key for it is
        made (and kept with the record) if it had none."""
        if schema_of(type(record)).deduplicate:
            return  # its key is of what it holds: the same for every copy
        held = (type(record),) + tuple(identity)
        with self._lock:
            remembered = self._keys_of(record)
            keys = remembered[3] if remembered is not None else {}
            key = keys.get(held)
            if key is None:
                key = codec.new_external_id("artifact")
                keys = _keys_with(keys, held, key)
                if remembered is not None:
                    self._record_keys[id(record)] = remembered[:3] + (keys,)
                else:
                    ref = self._forgotten_with(record)
                    if ref is None:
                        return
                    # no current key: one for what it holds now is made when it is written
                    self._record_keys[id(record)] = (ref, None, None, keys)
            self._remember_key(copy, key, held, {})

    def _prepare(self, handle: ExecutionHandle, items: List[Logged], mangle: bool) -> List[Pair]:
        """Records -> pairs, without touching the store."""
        pairs: List[Pair] = []
        seen: Set[Tuple[Any, int]] = set()
        by_key: Dict[Tuple[str, int], Pair] = {}  # the pair of each new artifact, by (key, event type)
        for record, event_type, path, taken in items:
            if record.id is not None and (self._changed_since_logged(record) or self._content_changed(record, taken)):
                # A new artifact here: its id is the old one's, or another
                # store's. (Its key is made anew by _record_key if the record
                # changed; unchanged, it is still this store's artifact.)
                object.__setattr__(record, "id", None)
            if record.id is not None:
                if (record.id, event_type) in handle.logged or (record.id, event_type) in seen:
                    continue
                seen.add((record.id, event_type))
                pairs.append(
                    Pair(
                        event=_event(event_type, path, record.id, mangle),
                        binding=(record, event_type, None),
                        held=_identity(record),
                    )
                )
                continue
            schema = schema_of(type(record))
            digest = taken if taken is not None else _digest.of_record(record)
            key = self._record_key(record, schema, handle.workspace, digest.digest)
            self._note_digest(record, schema, digest)
            if (key, event_type) in seen:
                first = by_key.get((key, event_type))
                if first is not None:
                    if first.binding is None or first.binding[0] is not record:
                        first.aliases.append(record)  # an equal record: it was left without an id
                        first.alias_held.append(_identity(record))
                elif self._ids_by_key.get(key) is not None:  # logged already: no pair for it
                    self._bind(record, self._ids_by_key[key])
                continue
            seen.add((key, event_type))
            by_uri = _by_uri(schema, digest, event_type, record.uri)
            # Not from the cache when looked for by uri: the newest stored
            # artifact may have changed since (see _reference_existing).
            known = None if by_uri else self._ids_by_key.get(key)
            if known is not None:
                if (known, event_type) in handle.logged or (known, event_type) in seen:
                    # Logged already, or also in this write as a record with
                    # its id: MLMD keeps one event per artifact and type.
                    self._bind(record, known)
                    continue
                seen.add((known, event_type))
                pairs.append(
                    Pair(event=_event(event_type, path, known, mangle), binding=(record, event_type, key), held=_identity(record))
                )
                by_key[(key, event_type)] = pairs[-1]
                continue
            artifact_type = codec.artifact_type(schema)
            proto = codec.artifact_to_proto(
                record,
                self.backend.cached_type_id("artifact", schema.type_name, artifact_type) or 0,
                workspace=handle.workspace,
                run=handle.run,
                external_id=key,
                mangle=mangle,
            )
            if digest is not _digest.NONE:
                codec.set_custom(proto, digest.properties(), mangle)
            pairs.append(
                Pair(
                    event=_event(event_type, path, mangle=mangle),
                    artifact=proto,
                    artifact_type=artifact_type,
                    deduplicate=schema.deduplicate,
                    binding=(record, event_type, key),
                    by_uri=by_uri,
                    held=_identity(record),
                )
            )
            by_key[(key, event_type)] = pairs[-1]
        return pairs

    # ------------------------------------------------------------------ submitting

    def submit(self, pending: Union[PendingWrite, PendingContexts], *, replay: bool = False) -> str:
        """Send a pending write to the store; set ids on its records.

        Args:
            pending: The write, or contexts to find or make.
            replay: It may have landed before (spool replay): look the
                execution up by its external id first.

        Returns:
            "written", or "present" when a replayed write was already there
            (contexts: all of them were).

        Raises:
            StoreUnavailableError: the store could not be reached.
            UnknownArtifactError: an artifact id the store does not hold.
            StoreError: the store refused the write.
        """
        if isinstance(pending, PendingContexts):
            made = False
            for spec in pending.contexts:
                known = spec.key in self._contexts
                made = (not known and self.resolve(spec).created) or made
            return "written" if made else "present"
        execution = pending.execution
        if not execution.type_id:
            execution.type_id = self.backend.type_id("execution", pending.execution_type)
        contexts = [self.resolve(spec).by_name for spec in pending.contexts]
        pairs = []
        for pair in pending.pairs:
            if pair.artifact is not None and pair.artifact_type is not None:
                try:
                    if not pair.artifact.type_id:
                        pair.artifact.type_id = self.backend.type_id("artifact", pair.artifact_type)
                    properties = pair.artifact.properties
                    for name, why in self.backend.clashes(pair.artifact_type, properties):
                        # The store's type of that name declares the property
                        # with another kind (an earlier version of the class):
                        # MLMD refuses the value, and the whole write failed,
                        # then the record was left out. Every field is in
                        # __ALL_META__, which records are read back from: the
                        # record is stored without that typed property, as a
                        # value no typed property can hold is (_codec).
                        # Said once per type and property (not per record: a
                        # loop of calls said it each time), at the user's line.
                        del properties[name]
                        warn_never_raised(f"lineage: {why}")
                    for name in self.backend.held_as_structs(pair.artifact_type, properties):
                        properties[name].CopyFrom(codec.as_struct_value(properties[name]))
                except InvalidTypeError as exc:
                    # The store's type cannot take the class at all (it lacks
                    # properties of the class the store will not add): this
                    # one record is left out, named, and the rest stored (the
                    # write failed whole; from the spool, kept whole, it never
                    # landed: the record, as sent, can never be stored in
                    # this store).
                    warn_never_raised(f"lineage leaves such records out of the executions it writes: {exc}")
                    continue
            pairs.append(pair)
        unverified = [p.event.artifact_id for p in pairs if p.artifact is None and p.event.artifact_id not in self._known_ids]
        if unverified:
            self._verify_ids(unverified)
        pairs = self._reference_existing(pairs, pending.handle)
        dropped: List[Tuple[Pair, int]] = []  # found stored by _reconcile, not sent
        if replay:
            pairs, present = self._reconcile(execution, pairs, dropped)
            if present:
                self._landed(pending, execution.id, pairs, [], dropped)
                return "present"
        execution_id, artifact_ids = self._put(execution, pairs, contexts, dropped)
        execution.id = execution_id
        self._landed(pending, execution_id, pairs, artifact_ids, dropped)
        return "written"

    def _landed(
        self,
        pending: PendingWrite,
        execution_id: int,
        pairs: List[Pair],
        artifact_ids: List[int],
        dropped: List[Tuple[Pair, int]],
    ) -> None:
        """Remember what a write stored: the pairs sent, with the ids the store
        gave, and the pairs *dropped* as already stored (see _reconcile)."""
        handle = pending.handle
        if handle is not None:
            with handle.lock:
                if not handle.proto.HasField("id"):
                    handle.proto.id = execution_id
        landed = list(itertools.chain(zip(pairs, artifact_ids), dropped))
        self._remember(
            itertools.chain(
                (
                    (
                        pair.event.type,
                        artifact_id,
                        _pair_keys(pair),
                        pair.binding[0] if pair.binding is not None else None,
                        pair.held,
                    )
                    for pair, artifact_id in landed
                ),
                # equal records sent as the pair's artifact: its id too
                (
                    (pair.event.type, artifact_id, (), alias, held)
                    for pair, artifact_id in landed
                    for alias, held in zip(pair.aliases, pair.alias_held)
                ),
            ),
            handle,
        )

    def _remember(
        self,
        landed: Iterable[Tuple[int, int, Tuple[str, ...], Optional[Artifact], Optional[Tuple[Any, ...]]]],
        handle: Optional[ExecutionHandle],
    ) -> None:
        """Remember what a write that landed stored, from (event type, artifact
        id, keys, record, what the record held when the write was prepared,
        None for now): the execution's events, the artifact ids known to
        exist and their keys; and set each record's id, and its stamp."""
        known, by_key, put = self._known_ids, self._ids_by_key, dict.__setitem__
        given = []
        with self._lock:
            for event_type, artifact_id, keys, record, held in landed:
                if handle is not None:
                    handle.logged.add((artifact_id, event_type))
                put(known, artifact_id, True)
                for key in keys:
                    put(by_key, key, artifact_id)
                if record is not None:
                    given.append((record, artifact_id, held))
            known.prune()
            by_key.prune()
            # Under the writer's lock: a record changed and logged by another
            # thread meanwhile is judged by its new stamp.
            _give_ids(given, self._token)

    def _reference_existing(self, pairs: List[Pair], handle: Optional[ExecutionHandle]) -> List[Pair]:
        """Point deduplicated artifacts that already exist at their id.

        The stored artifact is referenced, never overwritten. Artifacts this
        process has seen are referenced by id from its cache; the others are
        sent as new, and if one does exist the store refuses its external id
        and the write is reconciled and resent (see :meth:`_put`): the common
        case costs no read. Looked up first (one indexed read for all): every
        artifact of a write that sends one twice, and any artifact of a type
        the Kubeflow SDK wrote into this store (it has no external ids).
        """
        lookups: Dict[str, List[int]] = {}
        counts: Dict[str, int] = {}
        for pair in pairs:
            if pair.artifact is not None:
                counts[pair.artifact.external_id] = counts.get(pair.artifact.external_id, 0) + 1
        # A new artifact sent twice makes put_execution reuse stored external
        # ids, which would overwrite any artifact of the write found stored:
        # then every one is looked up (in the same read).
        sent_twice = any(count > 1 for count in counts.values())
        for index, pair in enumerate(pairs):
            if pair.artifact is None or not pair.deduplicate:
                continue
            key = pair.artifact.external_id
            known = None if pair.by_uri else self._ids_by_key.get(key)
            if known is not None:
                pairs[index] = attrs.evolve(pair, artifact=None, event=_with_artifact(pair.event, known))
            elif sent_twice or pair.by_uri or self._legacy_store():
                lookups.setdefault(key, []).append(index)
        if not lookups:
            return pairs
        drop: Set[int] = set()
        found = list(self._call_store("get_artifacts_by_external_ids", list(lookups)))
        missing = set(lookups) - {a.external_id for a in found}
        for key in missing:
            pair = pairs[lookups[key][0]]
            legacy = self._legacy_match(pair)
            if legacy is not None:
                found.append(legacy)
        # An input looked for by uri is the newest artifact of its identity,
        # whether stored under its own key (undigested) or with a digest.
        by_uri = {key: pairs[indexes[0]] for key, indexes in lookups.items() if pairs[indexes[0]].by_uri}
        if by_uri:
            newest = {artifact.external_id: artifact for artifact in found}
            for key, pair in by_uri.items():
                match = self._uri_match(pair)
                if match is not None and (key not in newest or match.id > newest[key].id):
                    newest[key] = match
            found = list(newest.values())
        for artifact in found:
            for index in lookups.get(artifact.external_id, ()):
                pair = pairs[index]
                if handle is not None and (artifact.id, pair.event.type) in handle.logged:
                    if pair.binding is not None:
                        self._bind(pair.binding[0], artifact.id, pair.held)
                    drop.add(index)
                    continue
                pairs[index] = attrs.evolve(pair, artifact=None, event=_with_artifact(pair.event, artifact.id))
                if not pair.by_uri:
                    with self._lock:
                        self._ids_by_key[artifact.external_id] = artifact.id
        return _one_event_each([p for i, p in enumerate(pairs) if i not in drop], self._token)

    def _legacy_store(self) -> bool:
        """Whether the store holds artifacts the Kubeflow SDK wrote (no
        external id): then dedup also follows its uri rule.

        One indexed read (``external_id IS NULL``, a constant filter), asked
        once per process and again every LEGACY_RECHECK_SECONDS while the
        answer is no: the old SDK may start writing into a store lineage
        made. A store lineage alone writes never pays for the uri lookups.
        """
        if self._legacy is True:
            return True
        if self._no_legacy_known():
            return False
        from ml_metadata.metadata_store import metadata_store

        asked = time.monotonic()
        options = metadata_store.ListOptions(limit=1, filter_query=NO_EXTERNAL_ID)
        self._legacy = bool(self._call_store("get_artifacts", options))
        self._legacy_asked = asked
        return self._legacy

    def _no_legacy_known(self) -> bool:
        """Whether the store was found to hold no Kubeflow SDK artifacts, less
        than LEGACY_RECHECK_SECONDS ago."""
        return self._legacy is False and time.monotonic() <= self._legacy_asked + LEGACY_RECHECK_SECONDS

    def _legacy_match(self, pair: Pair) -> Optional[pb.Artifact]:
        """A Kubeflow-SDK-written artifact equal to *pair*'s by the old rule
        (type, uri, name, version, workspace), found by its uri (indexed)."""
        if pair.artifact is None or not self._legacy_store():
            return None
        return self._match_by_uri(pair.artifact, sdk_only=True)

    def _uri_match(self, pair: Pair) -> Optional[pb.Artifact]:
        """The newest stored artifact equal to *pair*'s by the seed rule, any
        content digest: the same file logged where it could be digested
        (Pair.by_uri). A missing file on another host was a new artifact,
        cut off from the lineage that made it."""
        return self._match_by_uri(pair.artifact, sdk_only=False) if pair.artifact is not None else None

    def _match_by_uri(self, artifact: pb.Artifact, *, sdk_only: bool) -> Optional[pb.Artifact]:
        key = ("name", "version")
        workspace = codec.WORKSPACE_PROPERTY
        best: Optional[pb.Artifact] = None
        # Compared as read: the Kubeflow SDK stored its strings unescaped
        # (no external id), a U+E000 in them as it is (codec.escaped_by_lineage).
        uri = codec.decode(artifact.uri)
        ours = [_identity_value(artifact, k, codec.decode) for k in key]
        home = _as_read(artifact.custom_properties.get(workspace), codec.decode, keep_empty=True)
        for stored in self._stored_by_uri(artifact.uri):
            text = codec.decoder_for(stored)
            if (sdk_only and stored.external_id) or stored.type_id != artifact.type_id or text(stored.uri) != uri:
                continue
            same = all(_identity_value(stored, k, text) == mine for k, mine in zip(key, ours))
            if same and _as_read(stored.custom_properties.get(workspace), text, keep_empty=True) == home:
                if best is None or stored.id > best.id:
                    best = stored
                if sdk_only:
                    break
        if best is None:
            return None
        match = pb.Artifact()
        match.CopyFrom(best)
        match.external_id = artifact.external_id  # matched under this write's key
        return match

    def _stored_by_uri(self, stored_uri: str) -> Iterator[pb.Artifact]:
        """The artifacts of a uri, as lineage stores it (*stored_uri*) and as
        the Kubeflow SDK did (unescaped, a U+E000 in it as it is: see
        codec.escaped_by_lineage), if that differs."""
        yield from self._call_store("get_artifacts_by_uri", stored_uri)
        as_given = codec.as_another_client_stores(stored_uri, self.mangle)
        if as_given is not None:
            yield from self._call_store("get_artifacts_by_uri", as_given)

    def duplicate_by_own_rule(self, obj: Any, workspace: Optional[str], run: Optional[str]) -> Optional[int]:
        """The id of the stored artifact a Kubeflow SDK-style object's own
        ``is_duplicated(ours, stored)`` takes it for, looked for as the SDK
        did: among the artifacts of its uri (indexed) and, here, of its type.
        None when none is, or the store cannot be read (the write decides)."""
        if self.spooling():
            return None  # unreachable: not asked again for each record
        proto = obj.serialization()
        if not isinstance(proto, pb.Artifact):
            proto = pb.Artifact.FromString(proto.SerializeToString())
        type_name = type(obj).ARTIFACT_TYPE_NAME
        try:
            type_id = self.backend.cached_type_id("artifact", type_name)
            if type_id is None:
                found = self.backend.call("get_artifact_type", type_name)
                if found.name != type_name:
                    return None  # another type's, of a name equal on MySQL: none of its artifacts is one of ours
                type_id = found.id
            # As lineage stores it, and as the SDK did (not one it could not: the raw
            # uri of a Windows path was an SQL error on PostgreSQL, and nothing matched).
            stored = sorted(
                (a for a in self._stored_by_uri(codec.encode(proto.uri, self.mangle)) if a.type_id == type_id),
                key=lambda a: a.id,
            )
        except (mlmd_errors.StatusError, StoreError):
            return None  # nothing of the type stored yet, or the store is down
        # As the SDK compared them: with the type, workspace and run it sets,
        # and the stored one's strings as they were logged, not escaped
        # (a Windows path on PostgreSQL, a U+E000 anywhere, was never the same).
        proto.type_id = type_id
        if workspace is not None:
            proto.custom_properties[codec.WORKSPACE_PROPERTY].string_value = workspace
        if run is not None:
            proto.custom_properties[codec.RUN_PROPERTY].string_value = run
        for candidate in stored:
            text = codec.decoder_for(candidate)
            candidate.uri, candidate.name = text(candidate.uri), text(candidate.name)
            for values in (candidate.properties, candidate.custom_properties):
                for value in values.values():
                    if value.HasField("string_value"):
                        value.string_value = text(value.string_value)
            if obj.is_duplicated(proto, candidate):
                return int(candidate.id)
        return None

    def _verify_ids(self, ids: List[int]) -> None:
        found = {a.id for a in self._call_store("get_artifacts_by_id", ids)}
        missing = [i for i in ids if i not in found]
        if missing:
            raise UnknownArtifactError(f"invalid artifact id {missing[0]}: the store holds no artifact with this id")
        with self._lock:
            for artifact_id in found:
                self._known_ids[artifact_id] = True

    def _call_store(self, method: str, *args: Any) -> Any:
        try:
            return self.backend.call(method, *args)
        except mlmd_errors.NotFoundError:
            # MLMD's list lookups answer NotFound for "no match".
            return []
        except mlmd_errors.StatusError as exc:
            raise StoreError(f"{method} failed: {_first_line(exc)}", cause=exc) from exc

    def _put(
        self, execution: pb.Execution, pairs: List[Pair], contexts: List[pb.Context], dropped: List[Tuple[Pair, int]]
    ) -> Tuple[int, List[int]]:
        for attempt in range(4):
            try:
                return self._send(execution, [(p.artifact, p.event) for p in pairs], contexts)
            except mlmd_errors.AlreadyExistsError as exc:
                # An artifact or the execution is already stored (an output
                # logged before, a concurrent writer, an earlier attempt whose
                # answer was lost): reference what is there and resend.
                if attempt == 3:
                    raise StoreError(f"the store refused the write: {_first_line(exc)}", cause=exc) from exc
                pairs[:], _ = self._reconcile(execution, pairs, dropped)
            except mlmd_errors.StatusError as exc:
                raise StoreError(f"the store refused the write: {_first_line(exc)}", cause=exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        execution: pb.Execution,
        pairs: Sequence[Tuple[Optional[pb.Artifact], pb.Event]],
        contexts: List[pb.Context],
        all_new: bool = False,
    ) -> Tuple[int, List[int]]:
        """One write, one transaction: ``put_lineage_subgraph`` for a write
        of SUBGRAPH_FROM new artifacts or more (or one sent twice) and none
        referenced by id, else ``put_execution``.

        ``put_lineage_subgraph`` checks the types of all nodes in three
        reads (artifacts, executions, contexts); ``put_execution`` reads an
        artifact's type per artifact (see SUBGRAPH_FROM). An MLMD service
        that predates ``put_lineage_subgraph`` answers UNIMPLEMENTED: this
        backend then sends ``put_execution`` only.

        A new artifact in two pairs (an input that is also an output) is
        stored once, as it comes first, with an event for each pair.

        *all_new*: every pair has an artifact of its own, none sent twice
        (see :meth:`_direct`, which checked): there is nothing to work out.

        Returns:
            The execution's id and, for each pair, its artifact's id.

        Raises:
            ml_metadata.errors.StatusError: as the store answered
                (AlreadyExistsError: an external id is already stored).
        """
        if all_new and len(pairs) >= SUBGRAPH_FROM and self.backend.has_subgraph:
            try:
                [execution_id], artifact_ids, _ = self.backend.call(
                    "put_lineage_subgraph",
                    [execution],
                    [artifact for artifact, _ in pairs],
                    contexts,
                    [(0, index, event) for index, (_, event) in enumerate(pairs)],
                    reuse_context_if_already_exist=True,
                    reuse_artifact_if_already_exist_by_external_id=False,
                )
                return execution_id, artifact_ids
            except mlmd_errors.UnimplementedError:
                self._no_subgraph()
        artifacts: List[pb.Artifact] = []
        at: Dict[str, int] = {}
        edges: List[Tuple[int, Optional[int], pb.Event]] = []
        for artifact, event in pairs:
            index = None
            if artifact is not None:
                index = at.get(artifact.external_id)
                if index is None:
                    index = len(artifacts)
                    artifacts.append(artifact)
                    if artifact.external_id:
                        at[artifact.external_id] = index
            edges.append((0, index, event))
        # put_lineage_subgraph attributes to the contexts only the artifacts
        # it is sent; one referenced by id (an input logged earlier, one
        # found stored) would be left out of the workspace and run.
        referenced = any(index is None for _, index, _ in edges)
        # A new artifact in two pairs needs put_execution's reuse option,
        # which would also overwrite any other artifact of the write found
        # stored: the subgraph sends it once instead.
        twice = len(artifacts) < sum(index is not None for _, index, _ in edges)
        if (len(artifacts) >= SUBGRAPH_FROM or twice) and not referenced and self.backend.has_subgraph:
            try:
                [execution_id], artifact_ids, _ = self.backend.call(
                    "put_lineage_subgraph",
                    [execution],
                    artifacts,
                    contexts,
                    edges,
                    reuse_context_if_already_exist=True,
                    # An existing external id must fail, not overwrite the
                    # stored artifact (see _put).
                    reuse_artifact_if_already_exist_by_external_id=False,
                )
            except mlmd_errors.UnimplementedError:
                self._no_subgraph()
            else:
                return execution_id, [event.artifact_id if index is None else artifact_ids[index] for _, index, event in edges]
        execution_id, artifact_ids, _ = self.backend.call(
            "put_execution",
            execution,
            # A new artifact in two pairs goes as its first proto in both.
            [(None if index is None else artifacts[index], event) for _, index, event in edges],
            contexts,
            reuse_context_if_already_exist=True,
            # Only for such an artifact: MLMD inserts it once (and writes the
            # same again). Otherwise an existing external id must fail, not
            # overwrite the stored artifact.
            reuse_artifact_if_already_exist_by_external_id=twice,
        )
        return execution_id, list(artifact_ids)

    def _no_subgraph(self) -> None:
        log.info(
            "store %s has no put_lineage_subgraph (an MLMD service that predates it): writing with put_execution",
            self.backend.url.redacted(),
        )
        self.backend.has_subgraph = False

    def _reconcile(
        self, execution: pb.Execution, pairs: List[Pair], dropped: List[Tuple[Pair, int]]
    ) -> Tuple[List[Pair], bool]:
        """Drop or reference what the store already holds of this write.

        Args:
            dropped: Gets (pair, artifact id) for each pair dropped because
                its event is stored already (its record is bound by _landed).

        Returns:
            The pairs still to send, and whether the whole write was
            already there (execution in the same state, every event stored).
        """
        stored_execution = None
        if not execution.HasField("id"):
            found = self._call_store("get_executions_by_external_ids", [execution.external_id])
            if found:
                stored_execution = found[0]
                execution.id = stored_execution.id
        keys = [p.artifact.external_id for p in pairs if p.artifact is not None]
        by_key = {a.external_id: a.id for a in self._call_store("get_artifacts_by_external_ids", keys)} if keys else {}
        existing = (
            {(e.artifact_id, e.type) for e in self._call_store("get_events_by_execution_ids", [execution.id])}
            if execution.HasField("id")
            else set()
        )
        kept: List[Pair] = []
        for pair in pairs:
            artifact_id = pair.event.artifact_id if pair.artifact is None else by_key.get(pair.artifact.external_id)
            if artifact_id is not None and (artifact_id, pair.event.type) in existing:
                dropped.append((pair, artifact_id))
                continue
            if pair.artifact is not None and artifact_id is not None:
                with self._lock:
                    self._ids_by_key[pair.artifact.external_id] = artifact_id
                pair = attrs.evolve(pair, artifact=None, event=_with_artifact(pair.event, artifact_id))
            kept.append(pair)
        kept = _one_event_each(kept, self._token)
        if stored_execution is None and execution.HasField("id"):
            [stored_execution] = self._call_store("get_executions_by_id", [execution.id]) or [None]
        if (
            stored_execution is not None
            and stored_execution.last_known_state in _TERMINAL
            and execution.last_known_state not in _TERMINAL
        ):
            # A replayed start must not turn a finished execution back to
            # RUNNING: keep what is stored, add only missing events.
            execution.CopyFrom(stored_execution)
        present = (
            not kept
            and stored_execution is not None
            and stored_execution.last_known_state == execution.last_known_state
            # A write with no event to add may still change the execution
            # (params logged and flushed while the store was down): it is
            # there only if the stored execution already says what it says.
            and _same_properties(stored_execution, execution)
        )
        return kept, present


def _keys_with(keys: Dict[Any, str], identity: Tuple[Any, ...], key: str) -> Dict[Any, str]:
    """A record's keys by what it held (oldest first), with *identity*'s
    *key* the newest; the last 16 kept."""
    kept = {held: k for held, k in keys.items() if held != identity}
    kept[identity] = key
    while len(kept) > 16:
        del kept[next(iter(kept))]
    return kept


def _same_properties(stored: Any, execution: Any) -> bool:
    """Whether *stored* holds the properties and custom properties *execution* sends.

    A double the store does not give back as sent (6 decimals; 15 digits on
    SQLite: see codec.exact_as_property) is taken as what it stored: such a
    parameter is also sent exactly, in ``lineage.params`` (a string).
    """
    for field in ("properties", "custom_properties"):
        have, sent = getattr(stored, field), getattr(execution, field)
        if set(have) != set(sent):
            return False
        for key, value in sent.items():
            if have[key] == value:
                continue
            if (
                value.WhichOneof("value") == "double_value"
                and have[key].WhichOneof("value") == "double_value"
                and not codec.exact_as_property(value.double_value)
            ):
                continue
            return False
    return True


def _one_event_each(pairs: List[Pair], store: Any) -> List[Pair]:
    """Drop a second reference to an artifact with the same event type: a
    record logged with its id and an equal new record that turned out to be
    it (MLMD refuses the whole write over a repeated event)."""
    seen: Set[Tuple[int, int]] = set()
    kept: List[Pair] = []
    for pair in pairs:
        if pair.artifact is None:
            event = (pair.event.artifact_id, pair.event.type)
            if event in seen:
                bound = []
                if pair.binding is not None and pair.binding[0].id is None:
                    bound.append((pair.binding[0], pair.held))
                bound.extend(zip(pair.aliases, pair.alias_held))
                _give_ids([(record, pair.event.artifact_id, held) for record, held in bound], store)
                continue
            seen.add(event)
        kept.append(pair)
    return kept


def _as_old_sdk_keeps(value: Optional[pb.Value]) -> Optional[pb.Value]:
    """A property as the Kubeflow SDK stores it: it drops "", 0 and 0.0
    (``version=""`` is no version), so those compare equal to absent."""
    return value if value is not None and (value.string_value or value.int_value or value.double_value) else None


def _as_read(value: Optional[pb.Value], text: Callable[[str], str], *, keep_empty: bool = False) -> Any:
    """A property to compare with another client's: its string as read
    (*text* undoes lineage's escaping, or not), else the value; "", 0 and
    0.0 as absent (_as_old_sdk_keeps) unless *keep_empty*."""
    kept = value if keep_empty else _as_old_sdk_keeps(value)
    if kept is not None and kept.WhichOneof("value") == "string_value":
        return text(kept.string_value)
    return kept


def _identity_value(artifact: pb.Artifact, name: str, text: Callable[[str], str]) -> Any:
    """A property of an artifact's identity (name, version) to compare, as
    read (_as_read); one it stores in ``__ALL_META__`` only (a kind the
    store's type declares otherwise, see Writer.submit; too long to index)
    from there: absent from both, version="1" and version="2" compared equal
    and the second record was bound to the first's artifact."""
    value = artifact.properties.get(name)
    if value is not None:
        return _as_read(value, text)
    kept = codec.stored_field(artifact, name, text)
    return None if kept is None or (isinstance(kept, (str, int, float)) and not kept) else kept


def _with_artifact(event: pb.Event, artifact_id: int) -> pb.Event:
    copy = pb.Event()
    copy.CopyFrom(event)
    copy.artifact_id = artifact_id
    return copy


def _not_a_record(record: Any) -> InvalidTypeError:
    return InvalidTypeError(
        f"artifact must be a lineage.Artifact (DataSet, Model, Metrics or a custom type), got {describe(record)}"
    )


def _typed(items: Iterable[Any], event_type: int) -> List[Logged]:
    out: List[Logged] = []
    for item in items:
        taken = None
        if isinstance(item, tuple):
            record, path = item[0], (item[1] if len(item) > 1 else ())
            if len(item) > 2 and isinstance(item[2], _digest.Digest):
                taken = item[2]
        else:
            record, path = item, ()
        if not isinstance(record, Artifact):
            raise _not_a_record(record)
        if isinstance(path, (str, int)):
            path = (path,)
        out.append((record, event_type, tuple(path or ()), taken))
    return out
