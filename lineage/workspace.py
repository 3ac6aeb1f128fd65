"""The Kubeflow Metadata SDK's imperative API, kept name for name.

Code written for ``kubeflow.metadata.metadata`` keeps working::

    store = Store(grpc_host="metadata-grpc-service.kubeflow", grpc_port=8080)
    ws = Workspace(store=store, name="ws1", description="...", labels={"n1": "v1"})
    run = Run(workspace=ws, name="first run")
    exe = Execution(name="train", workspace=ws, run=run)
    data = exe.log_input(DataSet(uri="gs://bucket/data.csv", name="data"))
    model = exe.log_output(Model(uri="gs://bucket/model", name="mnist"))

Differences, all compatible: ``Store()`` with no argument is the embedded
store (or ``LINEAGE_STORE``) and ``Store(url=...)`` takes any store URL; a
run is a real MLMD context, child of its workspace; each ``log_*`` call is
one atomic write instead of three or four.

A store that is down does not stop the script (the SDK raised after 4 s):
``Workspace()``, ``Run()``, ``Execution()`` and ``log_*`` keep their writes
in the spool (one warning names the store), in order, and a workspace or run
is made when the store answers even if nothing is logged to it. What cannot
wait raises ``StoreUnavailableError`` naming the store:
``reuse_workspace_if_exists=False`` (its check needs the store), reads
(``list()``, ``context_id``), and anything under ``lineage.init(strict=True)``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple

from lineage import _config
from lineage.errors import (
    InvalidStoreURLError,
    InvalidTypeError,
    InvalidValueError,
    LineageError,
    StoreUnavailableError,
    describe,
    warn_never_raised,
)
from lineage.records import Artifact, Model, _now, check_current, check_json, check_text, is_builtin, record_class_for
from lineage.store import (
    INPUT,
    OUTPUT,
    Connection,
    ContextRef,
    ContextSpec,
    ExecutionHandle,
    PendingContexts,
    StoreURL,
    connect,
    parse_store_url,
    tls_url,
)
from lineage.store import _codec as codec
from lineage.store._url import _redact, home_variable
from lineage.store._writer import written_when_logged

if TYPE_CHECKING:
    from lineage.graph import LineageGraph

__all__ = ["Execution", "Run", "Store", "Workspace"]

_INT64_MAX = 2**63 - 1


def _on_the_root_filesystem(path: str) -> bool:
    """Whether *path* (or the folder it would be made in) is on the root
    filesystem, not on a volume mounted below it (reached through a
    symbolic link, say)."""
    folder = os.path.realpath(path)
    while not os.path.exists(folder) and os.path.dirname(folder) != folder:
        folder = os.path.dirname(folder)
    while not os.path.ismount(folder):
        folder = os.path.dirname(folder)
    return folder == os.path.dirname(folder)


def _warn_if_lost_with_the_pod(parsed: StoreURL) -> None:
    """Warn, once per process, when the embedded default store is a file on
    a Kubernetes container's own disk, which is gone with the pod. There the
    Kubeflow SDK's ``Store()`` meant Kubeflow's MLMD service, and code ported
    unchanged would write its records where no one finds them again. A home
    folder on a mounted volume (a Kubeflow notebook server's) is kept."""
    if not os.environ.get("KUBERNETES_SERVICE_HOST") or home_variable():
        return  # not in a pod, or the folder was chosen
    if not _config.first_warning("embedded store in a Kubernetes pod"):
        return
    try:
        if parsed.path is None or not _on_the_root_filesystem(parsed.path):
            return
    except OSError:
        return
    warn_never_raised(  # not raised under -W error: a tracked call whose Store() it is would not be recorded
        f"lineage writes to its embedded store, the SQLite file {parsed.path}, on the disk of this Kubernetes "
        "pod's container: the file goes when the pod does. Name a store that outlives it: "
        "LINEAGE_STORE=grpc://metadata-grpc-service.kubeflow:8080 (Kubeflow's MLMD service, where the Kubeflow SDK's "
        "Store() wrote), lineage.init(store=...) or Store(url), or set LINEAGE_HOME to a mounted volume"
    )


# A record without an id: "was never logged" was wrong for one logged in an
# execution still running (its outputs are written at its end) or while its
# store did not answer (the write waits in the spool).
_NO_ID = (
    "has no id: it was never logged, or its write has not reached the store yet (outputs are written when "
    "their execution ends; while the store does not answer, writes wait in the spool: see `lineage status`)"
)


class Store:
    """A metadata store, named by a URL or by the Kubeflow SDK's gRPC arguments.

    Args:
        grpc_host: Host of an MLMD gRPC service (Kubeflow SDK argument). A
            string containing ``://`` is taken as a store URL.
        grpc_port: Port of the gRPC service.
        root_certificates: PEM bytes of the CA that signed the server's
            certificate (TLS).
        private_key: PEM bytes of the client's private key (mutual TLS).
        certificate_chain: PEM bytes of the client's certificate (mutual TLS).
        url: A store URL: ``sqlite:///file.db``, ``memory://``,
            ``postgresql://...``, ``mysql://...``, ``grpc://host:port``.

    With no argument the store is ``lineage.init(store=...)``, else
    ``LINEAGE_STORE``, else the embedded SQLite file under ``LINEAGE_HOME``
    (not Kubeflow's service, as the Kubeflow SDK's ``Store()`` was: in a
    Kubernetes pod, where that file is lost with the pod unless on a mounted
    volume, a warning says so unless ``LINEAGE_HOME`` is set).

    Attributes:
        store: MLMD's store methods (``get_artifacts_by_id``, ...), as the
            Kubeflow SDK exposed them.
        url: The parsed store URL.
    """

    def __init__(
        self,
        grpc_host: Optional[str] = None,
        grpc_port: int = 8080,
        root_certificates: Optional[bytes] = None,
        private_key: Optional[bytes] = None,
        certificate_chain: Optional[bytes] = None,
        *,
        url: Optional[str] = None,
    ) -> None:
        if grpc_host is not None and not isinstance(grpc_host, str):
            raise InvalidTypeError(f"Store(grpc_host) must be a str, got {describe(grpc_host)}")
        if url is None and grpc_host is not None and "://" in grpc_host:
            url, grpc_host = grpc_host, None
        if url is not None and not isinstance(url, str):
            raise InvalidTypeError(f"Store(url) must be a store URL (a str), got {describe(url)}")
        parsed: StoreURL
        if url is not None:
            if grpc_host is not None:
                raise InvalidTypeError("Store() takes either a url or grpc_host/grpc_port, not both")
            given = {"grpc_port": grpc_port != 8080, "root_certificates": root_certificates is not None,
                     "private_key": private_key is not None, "certificate_chain": certificate_chain is not None}
            ignored = [key for key, set_ in given.items() if set_]
            if ignored:  # they were dropped in silence
                shown = _redact(url) if isinstance(url, str) else url
                raise InvalidTypeError(
                    f"Store({ignored[0]}) is for a gRPC host given as grpc_host; with the store URL {shown!r} "
                    "put the port (and TLS options) in the URL"
                )
            parsed = parse_store_url(url)
        elif grpc_host is not None:
            if grpc_host == "memory" or grpc_host.lower().endswith((".db", ".sqlite", ".sqlite3")) or os.path.isfile(grpc_host):
                # The Kubeflow SDK's first argument is the gRPC host: a file
                # name there would become grpc://lineage.db:8080.
                store = "memory://" if grpc_host == "memory" else f"sqlite:///{grpc_host}"
                raise InvalidValueError(
                    f"Store(grpc_host) is the host of an MLMD gRPC service, got {grpc_host!r}; "
                    f"for a store URL write Store({store!r}) or Store(url={store!r})"
                )
            if isinstance(grpc_port, bool) or not isinstance(grpc_port, int) or not 0 < grpc_port < 65536:
                raise InvalidTypeError(f"Store(grpc_port) must be an int from 1 to 65535, got {describe(grpc_port)}")
            certs = {
                "root_certificates": root_certificates,
                "private_key": private_key,
                "certificate_chain": certificate_chain,
            }
            for key, value in certs.items():
                if value is not None and not isinstance(value, (bytes, str)):
                    raise InvalidTypeError(f"Store({key}) must be PEM bytes, got {describe(value)}")
            parsed = tls_url(
                grpc_host,
                grpc_port,
                {k: (_pem_bytes(k, v) if isinstance(v, str) else v) for k, v in certs.items()},
            )
        else:
            resolved = _config.store_url()
            try:
                parsed = parse_store_url(resolved)
            except InvalidStoreURLError as exc:
                if resolved is None or _config.settings().store is not None:
                    raise
                # A URL the caller never wrote: the variable is named (as in the calls' warning).
                raise InvalidStoreURLError(f"the LINEAGE_STORE environment variable: {exc}") from None
            if resolved is None:
                _warn_if_lost_with_the_pod(parsed)
            if parsed.scheme == "memory":
                # Each memory:// connection is a database of its own: Store()
                # means the one tracked calls write to.
                self._connection: Connection = _config.cached_store(resolved)._connection
                self.url = parsed
                self.store = self._connection.mlmd
                return
        self._connection = connect(parsed)
        self.url = parsed
        self.store = self._connection.mlmd

    def get_artifact(self, artifact_id: int) -> Optional[Artifact]:
        """The record stored under an artifact id, or None.

        Raises:
            InvalidTypeError: *artifact_id* is not an int.
            InvalidValueError: it is not an MLMD id (1 to 2**63 - 1).
        """
        if isinstance(artifact_id, bool) or not isinstance(artifact_id, int):
            raise InvalidTypeError(f"get_artifact(artifact_id) must be an int, got {describe(artifact_id)}")
        _check_artifact_id("get_artifact(artifact_id)", artifact_id)
        return self._connection.reader.artifact(artifact_id)

    def lineage(self, artifact: Any, max_depth: Optional[int] = None) -> LineageGraph:
        """Everything upstream of an artifact (a logged record or an id).

        Args:
            max_depth: Levels of executions to follow (default: all); the
                graph says ``truncated`` if more was left.

        Raises:
            InvalidValueError: the artifact has no id (never logged, or its
                write has not reached the store yet), or its id is not an
                MLMD id (1 to 2**63 - 1).
            UnknownArtifactError: this store holds no artifact with that id
                (a record logged to another store).
        """
        return self._lineage("lineage", artifact, max_depth)

    def describe_lineage(self, artifact: Any, max_depth: Optional[int] = None) -> str:
        """The lineage of an artifact as an indented text tree."""
        return self._lineage("describe_lineage", artifact, max_depth).to_text()

    def _lineage(self, method: str, artifact: Any, max_depth: Optional[int]) -> LineageGraph:
        from lineage.graph import _artifact_id, build

        artifact_id = _artifact_id(artifact)
        if artifact_id is None and codec.is_kubeflow_style(artifact):
            # An artifact class written for the Kubeflow SDK, logged here: its id.
            artifact_id = getattr(artifact, "id", None)
            if artifact_id is None:
                raise InvalidValueError(f"{method}(artifact): {describe(artifact)} {_NO_ID}")
            if isinstance(artifact_id, bool) or not isinstance(artifact_id, int):
                raise InvalidTypeError(f"{method}(artifact): its id must be an int, got {describe(artifact_id)}")
        if artifact_id is None:
            if isinstance(artifact, Artifact):
                raise InvalidValueError(f"{method}(artifact): {artifact!r} {_NO_ID}")
            raise InvalidTypeError(f"{method}(artifact) must be a logged record or an artifact id, got {describe(artifact)}")
        _check_artifact_id(f"{method}(artifact): artifact_id", artifact_id)
        if max_depth is not None and (isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 0):
            raise InvalidValueError(f"{method}(max_depth) must be None or an int >= 0, got {describe(max_depth)}")
        upstream = self._connection.reader.upstream(artifact_id, max_depth=max_depth)
        if artifact_id not in upstream["artifacts"]:
            from lineage.errors import UnknownArtifactError

            raise UnknownArtifactError(
                f"{method}(artifact): store {self.url.redacted()} holds no artifact with id {artifact_id}"
                + (f" ({artifact!r} was logged to another store?)" if isinstance(artifact, Artifact) else "")
            )
        if isinstance(artifact, Artifact):
            check_names_stored(method, artifact, upstream["artifacts"][artifact_id], self.url)
        elif codec.is_kubeflow_style(artifact):
            # Its id may be another store's too: as a record, what it names here
            try:
                record = codec.record_from_kubeflow_style(artifact)
            except LineageError:  # one lineage could not log (the old SDK did): its id is as asked
                record = None
            if record is not None:
                object.__setattr__(record, "id", artifact_id)
                check_names_stored(method, record, upstream["artifacts"][artifact_id], self.url)
        return build(artifact_id, upstream)

    def __repr__(self) -> str:
        return f"Store({self.url.redacted()!r})"


def check_names_stored(where: str, record: Artifact, stored: Artifact, url: StoreURL) -> None:
    """Raise UnknownArtifactError unless *record* is the artifact its id names
    in this store: not logged to another store (whose ids these are not), nor
    changed since it was logged (a new artifact, as the writer takes it)."""
    from lineage.errors import UnknownArtifactError
    from lineage.store._writer import changed_since_logged

    def identity(r: Artifact) -> Tuple[Any, ...]:
        # version "" is no version, as the writer matches the Kubeflow SDK's
        # artifacts and a missing file's by uri (_as_old_sdk_keeps)
        return (r.uri, r.name, getattr(r, "version", None) or None)

    def type_name(r: Artifact) -> Optional[str]:
        # A type no class described when it was read is read as Artifact: its
        # type is not known from the record (a class defined since is not another type)
        return None if type(r) is Artifact else type(r).ARTIFACT_TYPE_NAME

    types = (type_name(record), type_name(stored))
    # Another store: told by what the id names there, not by how its URL
    # was spelt (localhost and 127.0.0.1, grpc:// to a `lineage serve` of it)
    if (
        changed_since_logged(record)
        or identity(record) != identity(stored)
        or (None not in types and types[0] != types[1])
    ):
        raise UnknownArtifactError(
            f"{where}(artifact): {record!r} is not artifact #{record.id} of store {url.redacted()} "
            f"(that is {stored!r}): was it logged to another store, or changed since it was logged?"
        )


def _pem_bytes(key: str, text: str) -> bytes:
    """PEM text given as a str (the SDK took bytes): ASCII, or named."""
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:
        raise InvalidValueError(f"Store({key}) must be PEM (ASCII text or bytes), got {describe(text)}") from None


def _check_artifact_id(where: str, artifact_id: int) -> None:
    """Raise unless *artifact_id* can be an MLMD id: MLMD sends ids as int64
    and numbers them from 1."""
    from lineage.errors import InvalidValueError

    if not 0 < artifact_id <= _INT64_MAX:
        raise InvalidValueError(f"{where} must be an MLMD id from 1 to {_INT64_MAX}, got {describe(artifact_id)}")


class Workspace:
    """Groups runs, executions and artifacts (an MLMD context).

    Args:
        store: Required :class:`Store`.
        name: Required name of the workspace.
        description: Optional description.
        labels: Optional key/value labels.
        reuse_workspace_if_exists: Reuse a workspace of the same name
            (default), or raise ``ValueError`` if one exists.
        backend_url_prefix: Deprecated in the Kubeflow SDK; raises.

    Raises:
        ValueError: A workspace of this name exists and
            *reuse_workspace_if_exists* is false ("... exists with id ...").
        StoreUnavailableError: The store is down and
            *reuse_workspace_if_exists* is false, or lineage is strict (else
            the workspace is spooled, and made when the store answers).
    """

    CONTEXT_TYPE_NAME = codec.WORKSPACE_TYPE_NAME

    def __init__(
        self,
        store: Optional[Store] = None,
        name: Optional[str] = None,
        description: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
        reuse_workspace_if_exists: Optional[bool] = True,
        backend_url_prefix: Optional[str] = None,
    ) -> None:
        if backend_url_prefix:
            raise InvalidValueError(
                "'backend_url_prefix' is deprecated. Please set Metadata.Store parameter to connect to the metadata gRPC service."
            )
        if name is None or not isinstance(name, str):
            raise InvalidValueError(f"'name' must be set and in string type, got {describe(name)}")
        if not name.strip():
            raise InvalidValueError(f"Workspace 'name' must be a non-empty string, got {name!r}")
        check_text("Workspace 'name'", name)
        if not store or not isinstance(store, Store):
            hint, shown = "", store
            if type(store).__module__.startswith("kubeflow.metadata"):  # code ported in part
                hint = "; the Kubeflow SDK's metadata.Store is not one: write lineage.Store() with the same arguments"
            elif isinstance(store, str):
                shown = _redact(store)  # a URL's password
                hint = f"; for a store URL write store=lineage.Store({shown!r})" if "://" in store else (
                    "; for a gRPC service write store=lineage.Store(grpc_host, grpc_port)"
                )
            raise InvalidValueError(f"'store' must be set as a lineage.Store, got {describe(shown)}{hint}")
        if description is not None and not isinstance(description, str):
            raise InvalidTypeError(f"Workspace 'description' must be a str, got {describe(description)}")
        if description is not None:
            check_text("Workspace 'description'", description)
        if labels is not None:
            if not isinstance(labels, Mapping):
                raise InvalidTypeError(f"Workspace 'labels' must be a mapping, got {describe(labels)}")
            check_json("Workspace 'labels'", labels)
        if reuse_workspace_if_exists is not None and not isinstance(reuse_workspace_if_exists, bool):
            # "no" was taken as True
            raise InvalidTypeError(
                f"Workspace 'reuse_workspace_if_exists' must be a bool, got {describe(reuse_workspace_if_exists)}"
            )
        self._lineage_store = store
        self.store = store.store
        self.name = name
        self.description = description
        self.labels = labels
        self._spec = ContextSpec("workspace", name, description=description, labels=dict(labels) if labels else None)
        reuse = bool(reuse_workspace_if_exists)
        writer = store._connection.writer
        # Whether one exists cannot be checked without the store: not deferred.
        self._ref: Optional[ContextRef] = _context_now(
            writer, lambda: writer.workspace(name, description, labels, reuse=reuse), [self._spec], may_wait=reuse
        )

    @classmethod
    def _lazy(cls, store: Store, name: str) -> Workspace:
        """A workspace found or made at its first write (no store access now).

        The declarative layer uses it so that a store that is down when a
        tracked call starts costs nothing but a spooled write.
        """
        self = cls.__new__(cls)
        self._lineage_store = store
        self.store = store.store
        self.name = name
        self.description = None
        self.labels = None
        self._spec = ContextSpec("workspace", name)
        self._ref = None
        return self

    @property
    def context_id(self) -> int:
        """Id of the workspace's MLMD context."""
        if self._ref is None:
            self._ref = self._lineage_store._connection.writer.resolve(self._spec)
        return self._ref.id

    def list(self, artifact_type_name: Optional[str] = None) -> List[Dict[str, Any]]:
        """List the artifacts of one type in this workspace, as flat dicts.

        Args:
            artifact_type_name: Type name, default ``Model.ARTIFACT_TYPE_NAME``.

        Returns:
            One dict per artifact: ``id``, ``workspace``, ``run``, its
            properties and the fields kept in ``__ALL_META__``. A field of
            the record's own named ``run`` keeps its value; the run is then
            under ``lineage.run``.
        """
        if artifact_type_name is None:
            artifact_type_name = Model.ARTIFACT_TYPE_NAME
        if not isinstance(artifact_type_name, str):
            raise InvalidTypeError(f"list(artifact_type_name) must be a str, got {describe(artifact_type_name)}")
        # As the Kubeflow SDK: the artifacts whose workspace this is, not
        # the inputs other workspaces' artifacts were used as here.
        return self._lineage_store._connection.reader.list_workspace(self.context_id, artifact_type_name, home=self.name)

    def _get_existing_context(self) -> Any:
        """The stored workspace context (Kubeflow SDK helper)."""
        return self.store.get_contexts_by_id([self.context_id])[0]

    def __repr__(self) -> str:
        # The id only when known: a repr asks no store (one down raised here).
        known = "" if self._ref is None else f", context_id={self._ref.id}"
        return f"Workspace(name={self.name!r}{known})"


def _context_now(writer: Any, make: Any, specs: List[ContextSpec], may_wait: bool = True) -> Optional[ContextRef]:
    """The context Workspace() or Run() finds or makes with *make*, or None:
    spooled as Execution() spools its writes (*specs*: the contexts to make,
    a run's workspace first), so that it is made when the store answers,
    with its description and labels, even if nothing is ever logged to it.
    A store that is down is lineage's failure, not the script's: the spool's
    one warning naming the store is shown now (it was not until a first
    write, or ever), and while earlier writes wait in the spool the store is
    not asked at all (each Workspace() or Run() waited for its retry budget).
    Unless strict, or not *may_wait*: StoreUnavailableError."""
    if may_wait and writer.spooling() and not _config.strict():
        writer.spool.append(PendingContexts(specs))  # queued behind the writes waiting
        return None
    try:
        return make()  # type: ignore[no-any-return]
    except StoreUnavailableError as exc:
        if not may_wait or _config.strict():
            raise
        writer.spool.append(PendingContexts(specs), cause=exc)
        return None


def _check_member_args(what: str, workspace: Any, name: Any, description: Any) -> None:
    """The Kubeflow SDK's checks for Run/Execution arguments (same errors),
    plus what MLMD cannot store."""
    from lineage.errors import InvalidValueError

    if workspace is None:
        raise InvalidValueError("'workspace' must be set.")
    if not isinstance(workspace, Workspace):
        raise InvalidTypeError(f"'workspace' must be a Workspace, got {describe(workspace)}")
    if name is None or not isinstance(name, str):
        raise InvalidValueError(f"'name' must be set and in string type, got {describe(name)}")
    if not name.strip():
        raise InvalidValueError(f"{what} 'name' must be a non-empty string, got {name!r}")
    check_text(f"{what} 'name'", name)
    if description is not None:
        if not isinstance(description, str):
            raise InvalidTypeError(f"{what} 'description' must be a str, got {describe(description)}")
        check_text(f"{what} 'description'", description)


class Run:
    """A run of a pipeline or notebook in a workspace; groups executions.

    A run is an MLMD context whose parent is its workspace's context.

    Args:
        workspace: Required workspace.
        name: Required name, unique within the workspace.
        description: Optional description.
    """

    def __init__(
        self, workspace: Optional[Workspace] = None, name: Optional[str] = None, description: Optional[str] = None
    ) -> None:
        _check_member_args("Run", workspace, name, description)
        self.workspace = workspace
        self.name = name
        self.description = description
        self._spec = ContextSpec("run", name, workspace=workspace.name, description=description)
        writer = workspace._lineage_store._connection.writer
        self._ref: Optional[ContextRef] = _context_now(
            writer, lambda: writer.run(workspace._spec, name, description), [workspace._spec, self._spec]
        )

    @classmethod
    def _lazy(cls, workspace: Workspace, name: str) -> Run:
        """A run found or made at its first write (no store access now)."""
        self = cls.__new__(cls)
        self.workspace = workspace
        self.name = name
        self.description = None
        self._spec = ContextSpec("run", name, workspace=workspace.name)
        self._ref = None
        return self

    @property
    def context_id(self) -> int:
        """Id of the run's MLMD context (child of the workspace's)."""
        if self._ref is None:
            writer = self.workspace._lineage_store._connection.writer
            # Its workspace first: one deferred while the store was down is
            # made with its description and labels (the run's spec names it only).
            self._ref = writer.run(self.workspace._spec, self.name, self.description)
        return self._ref.id

    def __repr__(self) -> str:
        known = "" if self._ref is None else f", context_id={self._ref.id}"
        return f"Run(name={self.name!r}, workspace={self.workspace.name!r}{known})"


def _own_duplicate_rule(obj: Any) -> bool:
    """Whether a Kubeflow SDK-style object's class says when two of its
    artifacts are one (``is_duplicated``), not the SDK's base class, whose
    answer is always no."""
    method = getattr(type(obj), "is_duplicated", None)
    if not callable(method):
        return False
    return (getattr(method, "__module__", None), getattr(method, "__qualname__", None)) != (
        "kubeflow.metadata.metadata",
        "Artifact.is_duplicated",
    )


def kubeflow_style_record(artifact: Any, writer: Any, handle: Any) -> Artifact:
    """The record logging a Kubeflow SDK-style object (see codec.is_kubeflow_style)
    to the execution of *handle* writes, made with *writer*: Execution.log_input's,
    and execution()'s and @track's (their records and the object's, one artifact).

    Raises:
        InvalidTypeError, InvalidValueError: the object cannot be a record (named).
    """
    # Its fields as the store's type declares them (the SDK made users
    # register it), not as the first object happens to set them.
    type_name = type(artifact).ARTIFACT_TYPE_NAME
    declared = None if record_class_for(type_name) else writer.declared_kinds(type_name)
    record = codec.record_from_kubeflow_style(artifact, declared)
    existing = getattr(artifact, "id", None)
    if existing is not None:
        # Logged before (it got its id then): the same artifact, as
        # the SDK referenced it, not a new one (the lineage broke).
        if isinstance(existing, bool) or not isinstance(existing, int):
            raise InvalidTypeError(f"{type(artifact).__name__}.id must be an int or None, got {describe(existing)}")
        _check_artifact_id(f"{type(artifact).__name__}.id", existing)
        record.id = existing
    elif _own_duplicate_rule(artifact) and not is_builtin(type(record)):
        # The SDK asked the class's is_duplicated() which stored artifact
        # it is (a new object for the checkpoint another step wrote).
        record.id = writer.duplicate_by_own_rule(artifact, handle.workspace, handle.run)
    return record


class Execution:
    """An execution in a workspace (and run); logs artifacts as its inputs and outputs.

    Creating it writes it. Each ``log_input``/``log_output`` is one atomic
    write. Its state is left unset (UNKNOWN), as the Kubeflow SDK left it:
    it has no end, and RUNNING would show for ever. ``with execution(...)``
    and ``@track`` record RUNNING, then how it ended.

    Args:
        name: Required name (not unique: many executions share one).
        workspace: Required workspace.
        run: Optional run.
        description: Optional description.
    """

    EXECUTION_TYPE_NAME = codec.EXECUTION_TYPE_NAME

    def __init__(
        self,
        name: Optional[str] = None,
        workspace: Optional[Workspace] = None,
        run: Optional[Run] = None,
        description: Optional[str] = None,
        *,
        _defer: bool = False,
        _fixed: Tuple[Tuple[str, Any], ...] = (),
    ) -> None:
        # _defer: made by an execution scope, which checked its arguments
        # when it was declared; written at its first write. _fixed: custom
        # properties it has from the start (its provenance).
        if not _defer:
            _check_member_args("Execution", workspace, name, description)
            if run is not None and not isinstance(run, Run):
                raise InvalidTypeError(f"'run' must be a Run, got {describe(run)}")
            assert workspace is not None and (run is None or run.workspace is not None)  # checked above
            if run is not None:
                theirs, ours = run.workspace._lineage_store.url, workspace._lineage_store.url
                one_store = theirs.same_store(ours)
                if run.workspace.name != workspace.name or not one_store:
                    # Its events would go to the run's workspace's context, its
                    # properties name this one: two workspaces' views disagreed.
                    where = "" if one_store else f" of store {theirs.redacted()}"
                    here = "" if one_store else f" of store {ours.redacted()}"
                    raise InvalidValueError(
                        f"Execution(run): run {run.name!r} is in workspace {run.workspace.name!r}{where}, "
                        f"not in the execution's workspace {workspace.name!r}{here}"
                    )
        self.id: Optional[int] = None
        self.name = name
        self.workspace = workspace
        self.run = run
        self.description = description
        self.create_time = _now()
        self._writer = workspace._lineage_store._connection.writer
        self._handle: ExecutionHandle = self._writer.new_execution(
            name,
            workspace=workspace._spec,
            run=run._spec if run is not None else None,
            description=description,
            create_time=self.create_time,
            fixed=_fixed,
        )
        if not _defer:
            self._write(state="UNKNOWN")

    def _write(self, inputs: Any = (), outputs: Any = (), **kwargs: Any) -> bool:
        # Spooled when the store is down, unless strict (as Workspace() and Run()).
        kwargs.setdefault("spool", not _config.strict())
        landed = self._writer.write(self._handle, inputs, outputs, **kwargs)
        self.id = self._handle.id
        return landed

    def log_input(self, artifact: Artifact) -> Artifact:
        """Log an artifact as an input of this execution.

        Args:
            artifact: A DataSet, Model, Metrics or custom artifact.

        Returns:
            The same artifact, with ``id`` set.
        """
        return self._log(artifact, INPUT)

    def log_output(self, artifact: Artifact) -> Artifact:
        """Log an artifact as an output of this execution.

        Args:
            artifact: A DataSet, Model, Metrics or custom artifact.

        Returns:
            The same artifact, with ``id`` set.
        """
        return self._log(artifact, OUTPUT)

    def _log(self, artifact: Artifact, event_type: int) -> Artifact:
        if artifact is None:
            raise InvalidValueError("'artifact' must be set.")
        if codec.is_kubeflow_style(artifact):
            # An artifact class written for the Kubeflow SDK: logged from its
            # serialization(), and given its id, as the SDK did.
            record = kubeflow_style_record(artifact, self._writer, self._handle)
            self._log(record, event_type)
            artifact.id = record.id
            return artifact
        if not isinstance(artifact, Artifact):
            raise InvalidTypeError(
                f"'artifact' must be a lineage.Artifact (DataSet, Model, Metrics or a custom type), got {describe(artifact)}"
            )
        if written_when_logged(artifact, self._writer._token):  # else referenced by its id, not written
            check_current(artifact)  # a dict changed in place since it was made: named here, not at the write
        if event_type == INPUT:
            self._write(inputs=[artifact])
        else:
            self._write(outputs=[artifact])
        return artifact

    def __repr__(self) -> str:
        return (
            f"Execution(name={self.name!r}, id={self.id}, workspace={self.workspace.name!r}, "
            f"run={self.run.name if self.run else None!r})"
        )
