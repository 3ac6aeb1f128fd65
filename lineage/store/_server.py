"""MLMD's gRPC service in front of any lineage store (``lineage serve``).

The server speaks ``ml_metadata.MetadataStoreService`` byte for byte: each
RPC's request bytes are handed, unparsed, to the same C++ call that MLMD's
embedded ``MetadataStore`` makes (the ``ml-metadata`` wheel's pybind module),
and the response bytes and status come back unchanged. No MLMD semantics are
re-implemented here, so MLMD's stock client, the Kubeflow SDK and lineage's
``grpc://`` URLs all see what a real ``metadata-grpc-service`` would answer.

- Methods are the service descriptor's; one that the wheel does not export,
  or that the descriptor does not name, answers ``UNIMPLEMENTED``.
- MLMD's status codes are absl codes, numerically gRPC's: kept as they are.
- The embedded store is one handle behind a lock. The pybind calls hold the
  GIL (measured: two threads on two handles take as long as one thread doing
  both halves, on SQLite and PostgreSQL), so a pool would add connections
  without adding throughput, and a single handle is what ``memory://`` needs.
- ``AbortedError`` (SQLite "database is locked", a serialization conflict)
  is retried briefly here; lost database connections are re-opened.
- ``grpc.health.v1.Health/Check`` answers SERVING (NOT_SERVING while stopping).
- At start the Kubeflow alpha types are registered, as Kubeflow's metadata
  server did, so the old Kubeflow SDK, which only *reads* its execution and
  artifact types, works against a fresh store.
"""

from __future__ import annotations

import logging
import math
import os
import random
import signal
import ssl
import stat
import threading
import time
from concurrent import futures
from typing import Any, Callable, Dict, List, Optional, Tuple

import attrs
import grpc
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from ml_metadata.metadata_store import metadata_store
from ml_metadata.metadata_store.pywrap.metadata_store_extension import metadata_store as mlmd_extension
from ml_metadata.proto import metadata_store_service_pb2

from lineage.errors import InvalidValueError, StoreError
from lineage.store._backend import _SQL, BACKSLASH_PROBE, Backend, RetryPolicy, _connect_error, login_refused
from lineage.store._url import StoreURL

__all__ = ["SERVICE_NAME", "MetadataServer", "TLSFiles", "serve"]

log = logging.getLogger("lineage.serve")

SERVICE_NAME = "ml_metadata.MetadataStoreService"
HEALTH_SERVICE_NAME = "grpc.health.v1.Health"

_OK = 0
_ABORTED = grpc.StatusCode.ABORTED.value[0]
_UNAVAILABLE = grpc.StatusCode.UNAVAILABLE.value[0]
_CANCELLED = grpc.StatusCode.CANCELLED.value[0]
_STATUS_BY_CODE: Dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}
_PROBE = BACKSLASH_PROBE.encode()
#: Failures of the server or its database, logged as warnings. The others
#: (NOT_FOUND, ALREADY_EXISTS, INVALID_ARGUMENT, ...) answer a client's
#: request, often as MLMD clients expect (a type looked up before it is
#: made): logged at DEBUG only.
_SERVER_FAILURES = frozenset(
    code.value[0]
    for code in (
        grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.DATA_LOSS,
        grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.ABORTED, grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
)

#: The codes MLMD gives a database error (a lost connection among them).
_DATABASE_FAILURES = frozenset(
    code.value[0] for code in (grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN, grpc.StatusCode.UNAVAILABLE)
)

#: Server-side retry of aborted transactions: short, jittered, bounded; the
#: client retries too once this budget is spent.
_ABORT_BUDGET_SECONDS = 2.0
_ABORT_FIRST_WAIT = 0.002
_ABORT_MAX_WAIT = 0.1

#: gRPC's default 4 MiB is small for a large put_execution or lineage query.
_MAX_MESSAGE_BYTES = 256 * 1024 * 1024

#: The longest error message sent, percent-encoded. MLMD quotes the whole
#: node it could not write (every property, up to megabytes) before the
#: reason; gRPC clients refuse a status message over their metadata limit
#: (8 KiB, and at random up to 16 KiB, by default) and report RESOURCE_EXHAUSTED
#: instead of the error ("Stream removed (received metadata size exceeds
#: hard limit)"): an ALREADY_EXISTS, which a lineage client takes as a
#: record stored by another process, became a refused write, and was lost.
_MAX_DETAILS_BYTES = 4096
_DETAILS_HEAD_BYTES = 1024
_SENT_AS_IS = bytes(byte for byte in range(0x20, 0x7F) if byte != 0x25)

#: A connection quiet for this long is pinged (HTTP/2 PING), and closed if
#: its client does not answer within KEEPALIVE_TIMEOUT_SECONDS. gRPC's own
#: default keeps it forever: clients that went away without closing (a
#: killed notebook kernel, a pod gone behind a NAT) held a socket and its
#: buffers until the server ended. A live client answers, unawares, and
#: keeps its connection (closing idle ones instead made MLMD's stock client
#: fail a call made as the close came, and log the close on every client).
KEEPALIVE_SECONDS = 120.0
KEEPALIVE_TIMEOUT_SECONDS = 20.0


def service_methods() -> List[str]:
    """The method names of ``ml_metadata.MetadataStoreService``."""
    service = metadata_store_service_pb2.DESCRIPTOR.services_by_name["MetadataStoreService"]
    return [method.name for method in service.methods]


# --------------------------------------------------------------------------- store


class _StartupRetry(RetryPolicy):
    """The server's retries: 15 s for a database that does not answer yet,
    none for one that refused the login (a role or database that does not
    exist, a MySQL user or password): waiting does not change that answer,
    and the operator waited 15 s to read it. A PostgreSQL server still starting refuses logins too
    (57P03), and is waited for (see :func:`login_refused`)."""

    def __init__(self, url: StoreURL) -> None:
        super().__init__(max_delay=15.0, unavailable_delay=15.0)
        self._url = url

    def _stop(self, state: Any) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        return super()._stop(state) or (exc is not None and login_refused(self._url, exc) is not None)


class EmbeddedStore:
    """One MLMD store handle behind a lock, called with serialized requests."""

    def __init__(self, url: StoreURL) -> None:
        if url.is_remote:
            raise InvalidValueError(
                f"only a database store can be served (sqlite, memory, postgresql, mysql), got {url.redacted()}"
            )
        self.url = url
        self._lock = threading.Lock()
        # Backend opens the store exactly as lineage's clients do (same
        # ConnectionConfig, max_num_retries=1, connect errors as Unavailable)
        # and registers the types with lineage's own code. A client's budget
        # for a store that does not answer is 2 s (then it spools): the
        # server, started beside its database, gives it 15 s to come up.
        self._backend = Backend(url, _StartupRetry(url))
        # Through run(): a database that is still starting is waited for.
        # None while the database does not answer (a reconnect failed):
        # every call tries again first.
        self._store: Optional[metadata_store.MetadataStore] = self._backend.run(lambda store: store, what="connect")
        self._down = False  # a reconnect failed and was said

    def register_kubeflow_types(self) -> Dict[str, int]:
        """Register the Kubeflow alpha types; return their ids by name.

        Raises:
            StoreError: a type exists with properties that conflict.
            InvalidTypeError: one declares a property with another kind.
        """
        from lineage.records import DataSet, Metrics, Model, schema_of
        from lineage.store import _codec as codec

        wanted: List[Tuple[str, Any]] = [
            ("artifact", codec.artifact_type(schema_of(record))) for record in (DataSet, Model, Metrics)
        ]
        wanted.append(("execution", codec.execution_type()))
        wanted.append(("context", codec.workspace_type()))
        with self._lock:
            return {proto.name: self._backend.type_id(kind, proto) for kind, proto in wanted}

    def call(self, method: Callable[[Any, bytes], Any], request: bytes,
             wanted: Callable[[], bool] = lambda: True) -> Tuple[bytes, str, int]:
        """Run one serialized MLMD call; return (response, error message, status code).

        *wanted* says whether the client still waits for the answer. It is
        asked each time the store is taken (after the wait for the lock,
        before each retry): a call whose client gave up (deadline passed,
        cancelled) is not run, or not run again. Its write, made after
        the client was told it failed, was stored twice when retried; and
        each abandoned call held the store as long as a live one.
        """
        deadline = time.monotonic() + _ABORT_BUDGET_SECONDS
        wait = _ABORT_FIRST_WAIT
        reconnected = False
        while True:
            with self._lock:
                if not wanted():
                    return b"", "lineage serve: the client gave up before the call was run", _CANCELLED
                if self._store is None and not self._reopen("it did not answer at the last call"):
                    return b"", f"lineage serve: the database {self.url.redacted()} does not answer", _UNAVAILABLE
                assert self._store is not None
                response, message, code = method(self._store._metadata_store, request)
                text = message.decode("utf-8", errors="replace") if code != _OK else ""
                # Only a failure of the database: a NOT_FOUND or ALREADY_EXISTS
                # message quotes the request ("No type found for query, name:
                # `lost connection`"), and was taken for a dropped connection.
                if code in _DATABASE_FAILURES and not reconnected and _connect_error(Exception(text)):
                    if self._reopen(text):
                        # The database dropped the connection (restart,
                        # idle timeout): one more try on a fresh one.
                        reconnected = True
                        continue
                    # Unavailable, as it is: clients retry, then spool. As
                    # INTERNAL their writes were refused, and lost.
                    return response, text, _UNAVAILABLE
            if code != _ABORTED or time.monotonic() + wait > deadline:
                return response, text, code
            time.sleep(random.uniform(0, wait))
            wait = min(wait * 2, _ABORT_MAX_WAIT)

    def _reopen(self, error: str) -> bool:
        if self.url.scheme == "memory":
            return False
        try:
            self._backend.close()
            self._store = None  # not the dead handle: reused, MLMD crashed on MySQL
            self._store = self._backend.mlmd
        except Exception as exc:  # the database is still down: report the call's own error
            log.log(
                logging.DEBUG if self._down else logging.WARNING,  # said once, not at every call while down
                "lineage serve: lost its connection to the database (%s) and cannot reconnect to %s: %s",
                _headline(error), self.url.redacted(), _headline(str(exc)),
            )
            self._down = True
            return False
        log.warning("lineage serve: lost its connection to the database (%s); reconnected", _headline(error))
        self._down = False
        return True


# --------------------------------------------------------------------------- gRPC handlers


class _MetadataHandler(grpc.GenericRpcHandler):
    """Forwards every MetadataStoreService method, as bytes, to the store."""

    def __init__(self, store: EmbeddedStore) -> None:
        self._store = store
        self._handlers: Dict[str, grpc.RpcMethodHandler] = {}
        for name in service_methods():
            method = getattr(mlmd_extension, name, None)
            if method is not None:
                self._handlers[f"/{SERVICE_NAME}/{name}"] = grpc.unary_unary_rpc_method_handler(self._forward(method))

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        # None makes gRPC answer UNIMPLEMENTED.
        return self._handlers.get(handler_call_details.method)

    def _forward(self, method: Callable[[Any, bytes], Any]) -> Callable[[bytes, grpc.ServicerContext], bytes]:
        name = getattr(method, "__name__", "call")

        def forward(request: bytes, context: grpc.ServicerContext) -> bytes:
            response, message, code = self._store.call(method, request, lambda: _waited_for(context))
            if code == _OK:
                return response
            if code == _CANCELLED and not _waited_for(context):
                log.debug("lineage serve: %s from %s not run: its client gave up", name, context.peer())
                return b""  # no one to answer
            status = _STATUS_BY_CODE.get(code, grpc.StatusCode.UNKNOWN)
            failure = code in _SERVER_FAILURES and _PROBE not in request  # a PostgreSQL store fails lineage's probe
            if code == _UNAVAILABLE and self._store._down:
                failure = False  # the database is down: said once ("cannot reconnect"), not at every call
            log.log(
                logging.WARNING if failure else logging.DEBUG,
                "lineage serve: %s from %s failed: %s: %s", name, context.peer(), status.name, _headline(message),
            )
            context.set_code(status)
            context.set_details(_details(message))
            return b""

        return forward


def _waited_for(context: grpc.ServicerContext) -> bool:
    """Whether the call's client still waits: not cancelled, deadline not passed."""
    if not context.is_active():
        return False
    remaining = context.time_remaining()
    return remaining is None or remaining > 0


def _health_messages() -> Tuple[type, type]:
    """HealthCheckRequest/Response classes, built from grpc/health/v1/health.proto.

    grpcio-health-checking is not a dependency for two tiny messages; a
    private descriptor pool keeps them from clashing with it if installed.
    """
    proto = descriptor_pb2.FileDescriptorProto(
        name="lineage_grpc_health_v1.proto", package="grpc.health.v1", syntax="proto3"
    )
    request = proto.message_type.add(name="HealthCheckRequest")
    request.field.add(name="service", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    response = proto.message_type.add(name="HealthCheckResponse")
    status = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        status.value.add(name=name, number=number)
    response.field.add(name="status", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_ENUM,
                       type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
                       label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


HealthCheckRequest, HealthCheckResponse = _health_messages()
SERVING = 1
NOT_SERVING = 2


class _HealthHandler(grpc.GenericRpcHandler):
    """``grpc.health.v1.Health/Check`` for "" and the MLMD service.

    ``Watch`` is left out (UNIMPLEMENTED, which the health protocol allows):
    each open stream would hold one of the server's worker threads.

    Checks run on threads of their own (gRPC's per-method pool: the
    behaviour's ``experimental_thread_pool``; a gRPC without it queues them
    with the calls, as before): behind the
    server's workers, all waiting for the store, they waited for every call
    queued before them, and a probe (kubelet's) timed out on a busy server.
    """

    def __init__(self, stopping: threading.Event) -> None:
        self._stopping = stopping
        self.pool = futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="lineage-serve-health")

        def check(request: Any, context: grpc.ServicerContext) -> Any:
            return self._check(request, context)

        check.experimental_thread_pool = self.pool  # type: ignore[attr-defined]
        self._check_handler = grpc.unary_unary_rpc_method_handler(
            check,
            request_deserializer=HealthCheckRequest.FromString,
            response_serializer=HealthCheckResponse.SerializeToString,
        )

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> Optional[grpc.RpcMethodHandler]:
        if handler_call_details.method == f"/{HEALTH_SERVICE_NAME}/Check":
            return self._check_handler
        return None

    def _check(self, request: Any, context: grpc.ServicerContext) -> Any:
        if request.service not in ("", SERVICE_NAME):
            context.set_code(grpc.StatusCode.NOT_FOUND)
            context.set_details(f"unknown service {request.service!r}")
            return HealthCheckResponse()
        return HealthCheckResponse(status=NOT_SERVING if self._stopping.is_set() else SERVING)


# --------------------------------------------------------------------------- server


@attrs.frozen
class TLSFiles:
    """PEM file paths for ``--tls-cert``, ``--tls-key`` and ``--tls-client-ca``."""

    cert: str
    key: str
    client_ca: Optional[str] = None

    def credentials(self) -> grpc.ServerCredentials:
        """Server credentials; a client CA means client certificates are required."""
        key, cert = _read(self.key, "--tls-key"), _read(self.cert, "--tls-cert")
        client_ca = _read(self.client_ca, "--tls-client-ca") if self.client_ca else None
        self.check()
        return grpc.ssl_server_credentials(
            [(key, cert)], root_certificates=client_ca, require_client_auth=client_ca is not None
        )

    def check(self) -> None:
        """Parse the files as TLS will, and name the one that is wrong.

        gRPC itself only logs why a certificate is refused, and then
        reports that the port cannot be bound.
        """
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        # The files, not this system's policy: gRPC (BoringSSL) takes keys
        # OpenSSL's default security level refuses (a 1024-bit RSA key).
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        for option, path in (("--tls-cert", self.cert), ("--tls-client-ca", self.client_ca)):
            if path is None:
                continue
            try:
                context.load_verify_locations(cafile=path)
            except (ssl.SSLError, ValueError) as exc:
                raise InvalidValueError(f"{option}: {path!r} holds no PEM certificate ({_ssl_reason(exc)})") from None
        key = _read(self.key, "--tls-key")
        if b"PRIVATE KEY-----" not in key:
            raise InvalidValueError(f"--tls-key: {self.key!r} holds no PEM private key")
        if b"ENCRYPTED" in key:
            raise InvalidValueError(
                f"--tls-key: {self.key!r} is encrypted; gRPC needs the key unencrypted "
                "(openssl pkey -in KEY -out PLAIN writes one)"
            )
        try:
            # An encrypted key would make OpenSSL ask for its passphrase on
            # the terminal; a wrong (empty) one makes it fail instead.
            context.load_cert_chain(self.cert, self.key, password=b"")
        except (ssl.SSLError, ValueError) as exc:
            if "KEY_VALUES_MISMATCH" in str(exc) or getattr(exc, "reason", None) == "KEY_VALUES_MISMATCH":
                raise InvalidValueError(
                    f"--tls-key: {self.key!r} is not the private key of the certificate in {self.cert!r}"
                ) from None
            raise InvalidValueError(f"--tls-key: {self.key!r} cannot be used ({_ssl_reason(exc)})") from None


def _headline(text: str) -> str:
    """The first line of an MLMD error message, cut to 300 characters (a log line)."""
    return text.strip().split("\n", 1)[0][:300]


def _details(message: str) -> str:
    """*message* as a gRPC client takes it: one too long loses the middle
    (the node MLMD quotes), keeping its start and its end (the database's
    reason, which clients read: "duplicate key", "database is locked")."""
    if _sent_size(message.encode()) <= _MAX_DETAILS_BYTES:
        return message
    message = _SQL.sub(r"\1", message)  # the SQL statement after the reason
    data = message.encode()
    if _sent_size(data) <= _MAX_DETAILS_BYTES:
        return message
    cut = " ... [{} bytes left out by lineage serve] ... "
    head = _within(data, _DETAILS_HEAD_BYTES)
    end = _within(data[::-1], _MAX_DETAILS_BYTES - _DETAILS_HEAD_BYTES - len(cut) - 12)[::-1]
    # A character cut in two is dropped, not garbled.
    return head.decode(errors="ignore") + cut.format(len(data) - len(head) - len(end)) + end.decode(errors="ignore")


def _sent_size(data: bytes) -> int:
    """The size of *data* as a gRPC status message: percent-encoded, 3 bytes
    for each byte that is not printable ASCII, and for '%'."""
    return len(data) + 2 * len(data.translate(None, _SENT_AS_IS))


def _within(data: bytes, size: int) -> bytes:
    """The longest start of *data* whose :func:`_sent_size` is at most *size*."""
    sent = 0
    for index, byte in enumerate(data):
        sent += 1 if byte in _SENT_AS_IS else 3
        if sent > size:
            return data[:index]
    return data


def _ssl_reason(exc: Exception) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason).lower().replace("_", " ") if reason else str(exc)


def _read(path: str, option: str) -> bytes:
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block the open for ever
            raise InvalidValueError(f"{option}: {path!r} is not a regular file")
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        raise InvalidValueError(f"{option}: cannot read {path!r}: {exc.strerror}") from None


class MetadataServer:
    """An MLMD gRPC service over one lineage store.

    Args:
        url: The store to serve (not a grpc:// URL).
        host: Address to listen on.
        port: Port to listen on; 0 picks a free one (see :attr:`port`).
        tls: Certificate files, or None for plaintext.
        max_workers: Threads answering RPCs (calls to the store are serialized).
        keepalive: Seconds of quiet after which a connection is pinged, and
            closed if its client does not answer in time (the lesser of
            this and KEEPALIVE_TIMEOUT_SECONDS); None: never.
        idle_timeout: Seconds after which a connection with no call is
            closed, at least 1 (its client reconnects at its next call, and
            gRPC clients log the close at INFO); None: never (the default).

    Raises:
        InvalidValueError: *keepalive* or *idle_timeout* is not a number of
            seconds it can be.
    """

    def __init__(self, url: StoreURL, host: str = "127.0.0.1", port: int = 8080,
                 tls: Optional[TLSFiles] = None, max_workers: int = 16,
                 keepalive: Optional[float] = KEEPALIVE_SECONDS, idle_timeout: Optional[float] = None) -> None:
        keepalive_ms = _milliseconds("keepalive", keepalive, 0.001)
        idle_ms = _milliseconds("idle_timeout", idle_timeout, 1.0)
        alive: List[Tuple[str, int]] = []
        if keepalive_ms:
            answer_ms = min(keepalive_ms, round(KEEPALIVE_TIMEOUT_SECONDS * 1000))
            alive = [
                ("grpc.keepalive_time_ms", keepalive_ms),
                ("grpc.keepalive_timeout_ms", answer_ms),
                # gRPC 1.5x+ waits for a ping's answer this long (default 60 s), not keepalive_timeout_ms
                ("grpc.http2.ping_timeout_ms", answer_ms),
                ("grpc.keepalive_permit_without_calls", 1),  # an idle connection is the one to check
                ("grpc.http2.max_pings_without_data", 0),  # as many pings as it stays quiet
            ]
        self.url = url
        self.host = host
        self.tls = tls
        self._stopping = threading.Event()
        credentials = tls.credentials() if tls else None
        self.store = EmbeddedStore(url)
        self.type_ids = self.store.register_kubeflow_types()
        self.handler = _MetadataHandler(self.store)
        self._health = _HealthHandler(self._stopping)
        self._server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="lineage-serve"),
            handlers=[self.handler, self._health],
            options=[
                # Without this a second server on the same port starts
                # fine and the kernel splits clients between the two.
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", _MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", _MAX_MESSAGE_BYTES),
                *alive,
                *([("grpc.max_connection_idle_ms", idle_ms)] if idle_ms else []),
            ],
        )
        address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        try:
            bound = (
                self._server.add_secure_port(address, credentials)
                if credentials
                else self._server.add_insecure_port(address)
            )
        except RuntimeError as exc:
            bound = 0
            reason = str(exc)
        else:
            reason = "address in use or not available"
        if not bound:
            raise StoreError(f"cannot listen on {address}: {reason}")
        self.port = bound

    @property
    def address(self) -> str:
        """host:port as a grpc:// URL takes it (an IPv6 host in brackets)."""
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def start(self) -> None:
        self._server.start()
        mode = "plaintext"
        if self.tls:
            mode = "TLS, client certificates required" if self.tls.client_ca else "TLS"
        log.info("lineage serve: listening on %s (%s), store %s", self.address, mode, self.url.redacted())

    def stop(self, grace: Optional[float] = 10.0) -> None:
        """Refuse new calls, let in-flight ones finish for up to *grace* seconds."""
        self._stopping.set()
        self._server.stop(grace).wait()
        self._health.pool.shutdown(wait=False)
        log.info("lineage serve: stopped")

    def wait(self, timeout: Optional[float] = None) -> bool:
        return self._server.wait_for_termination(timeout)


def _milliseconds(what: str, seconds: Optional[float], least: float) -> Optional[int]:
    """*seconds* in whole milliseconds (gRPC's unit, a C int), None for None."""
    if seconds is None:
        return None
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not least <= seconds < math.inf:
        raise InvalidValueError(f"{what} must be a number of seconds, at least {least:g}, or None, got {seconds!r}")
    return max(1, min(round(seconds * 1000), 2**31 - 1))


def serve(url: StoreURL, host: str = "127.0.0.1", port: int = 8080, tls: Optional[TLSFiles] = None,
          grace: float = 10.0, keepalive: Optional[float] = KEEPALIVE_SECONDS,
          idle_timeout: Optional[float] = None) -> int:
    """Run the server until SIGTERM or SIGINT, then stop it gracefully.

    The signal handlers stay installed until the process exits, so that a
    second signal during the graceful stop does not kill it half-way.

    Returns:
        The process exit code (0).
    """
    stop = threading.Event()
    server = MetadataServer(url, host, port, tls, keepalive=keepalive, idle_timeout=idle_timeout)

    def on_signal(signum: int, frame: Any) -> None:
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    try:
        server.start()
        while not stop.wait(1.0):
            pass
    finally:
        server.stop(grace)
    return 0
