"""The connection to one MLMD store: lazy, fork-aware, thread-safe, retried.

This is the seam between lineage and MLMD: everything above talks to a
``Backend`` through :meth:`Backend.call` and the type registry.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import struct
import threading
import time
import weakref
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple, TypeVar

import tenacity
from ml_metadata import errors as mlmd_errors
from ml_metadata.metadata_store import metadata_store
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage import _env
from lineage._fork import renew_after_fork
from lineage.errors import InvalidTypeError, StoreError, StoreUnavailableError
from lineage.store._url import POSTGRESQL_PLAIN_DATABASE, StoreURL

__all__ = ["Backend", "RetryPolicy"]

log = logging.getLogger("lineage.store")
#: The largest message a gRPC store may answer with (lineage serve's limit too).
MAX_MESSAGE_BYTES = 256 * 1024 * 1024
#: The largest error message (and other metadata) taken from a gRPC store.
MAX_METADATA_BYTES = 16 * 1024 * 1024
#: The context name looked up to learn whether the database breaks on a
#: backslash (PostgreSQL answers INTERNAL: see mangles_backslashes).
BACKSLASH_PROBE = "lineage-probe\\backslash"


class _QuietMLMDRetries(logging.Filter):
    """Drop MLMD's log lines about errors that lineage handles itself.

    MLMD's Python client logs (through absl) "<method> failed after retrying
    1 times." for every AbortedError once its own retries, set to 1 here, are
    spent, and "mlmd client InternalError: ... duplicate key ..." for every
    unique-index race on PostgreSQL/MySQL (and "... deadlock ..." for every
    lock-order conflict). lineage retries the first and the last and
    re-reads after the second, so under contention they were a stream of
    false alarms on the user's stderr. So is a lost connection (retried,
    then spooled with a warning of lineage's). Other INTERNAL errors still show.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = str(record.msg)
        if message.startswith("ConnectionConfig:"):
            # MLMD logs the whole config at DEBUG when it connects: the
            # database password and a grpcs:// client key with it.
            record.args = tuple(_without_secrets(arg) for arg in record.args or ())
            return True
        if "failed after retrying" in message:
            return False
        if not message.startswith("mlmd client"):
            return True
        # The backslash probe (check_mangling) fails by design on a service
        # with PostgreSQL behind it: that is its answer, not an error
        # (PostgreSQL quotes it cut: "... 'E'lineage-pr...").
        # A lost connection (a database restarted, a full disk) is retried,
        # then spooled with lineage's own warning, which names it: MLMD's
        # line ("mlmd client InternalError: ... terminating connection") was
        # told besides, on the user's stderr, even when the retry succeeded.
        return not any(
            _unique_violation(Exception(arg)) or _conflict(Exception(arg)) or _connect_error(Exception(arg))
            or "lineage-pr" in str(arg)
            for arg in record.args or ()
        )


def _without_secrets(config: Any) -> Any:
    """A copy of an MLMD connection config with its secrets as ``***``."""
    if not hasattr(config, "ListFields"):
        return config
    copy = type(config)()
    copy.CopyFrom(config)
    for field, value in copy.ListFields():
        if field.name in ("mysql", "postgresql") and value.password:
            value.password = "***"
        elif field.name == "ssl_config" and value.client_key:
            value.client_key = "***"
    return copy


logging.getLogger("absl").addFilter(_QuietMLMDRetries())

T = TypeVar("T")

#: Errors that mean "try again": a lock or serialization conflict, or a
#: server that cannot be reached right now.
# CANCELLED: a gRPC service stopping (even gracefully) cancels calls it had
# queued but not started; they did nothing, and are retried (then spooled).
RETRIABLE = (
    mlmd_errors.AbortedError,
    mlmd_errors.UnavailableError,
    mlmd_errors.DeadlineExceededError,
    mlmd_errors.CancelledError,
)


class _GrpcClient(metadata_store.MetadataStore):
    """MLMD's gRPC client, its channel with a subchannel pool of its own.

    gRPC shares connections (subchannels) between the channels of a process
    that have the same target and arguments. A channel left in reconnect
    backoff (a server that went away, then came back on the same port) made
    every fresh channel to that address fail at once, "connection refused",
    until its backoff ran out, up to minutes later. Reconnecting with a fresh
    channel is how lineage recovers from a lost server (see _on_retriable).
    """

    def _get_channel(self, config: Any) -> Any:
        # MLMD's own _get_channel (ml-metadata 1.17), with the pool option added.
        import grpc

        if config.HasField("client_timeout_sec"):
            self._grpc_timeout_sec = config.client_timeout_sec
        options: List[Tuple[str, Any]] = [("grpc.use_local_subchannel_pool", 1)]
        arguments = config.channel_arguments
        # gRPC's default is 4 MiB: a read of many artifacts (the external ids
        # of a 10,000-file input, looked up when it is logged again) failed
        # with RESOURCE_EXHAUSTED and the write was lost. lineage serve sends
        # up to MAX_MESSAGE_BYTES.
        options.append((
            "grpc.max_receive_message_length",
            arguments.max_receive_message_length if arguments.HasField("max_receive_message_length") else MAX_MESSAGE_BYTES,
        ))
        # An error message longer than 8 KiB (MLMD quotes the node it could
        # not write, every property with it) came as RESOURCE_EXHAUSTED from
        # MLMD's own service: an ALREADY_EXISTS, a record another process
        # stored, became a refused write, and was lost. gRPC takes 16 MiB at most.
        options.append(("grpc.max_metadata_size", MAX_METADATA_BYTES))
        if arguments.HasField("http2_max_ping_strikes"):
            options.append(("grpc.http2.max_ping_strikes", arguments.http2_max_ping_strikes))
        target = f"{config.host}:{config.port}"
        if not config.HasField("ssl_config"):
            return grpc.insecure_channel(target, options=options)
        ssl = config.ssl_config
        credentials = grpc.ssl_channel_credentials(
            ssl.custom_ca.encode("ascii") if ssl.HasField("custom_ca") else None,
            ssl.client_key.encode("ascii") if ssl.HasField("client_key") else None,
            ssl.server_cert.encode("ascii") if ssl.HasField("server_cert") else None,
        )
        return grpc.secure_channel(target, credentials, options=options)


class RetryPolicy:
    """Short jittered exponential backoff, bounded in time and attempts.

    A locked or conflicting transaction (``AbortedError``) is retried for up
    to ``LINEAGE_RETRY_SECONDS`` (10 s); a store that does not answer
    (``UnavailableError``) for up to ``LINEAGE_RETRY_UNAVAILABLE_SECONDS``
    (2 s), after which the write goes to the spool and is retried in the
    background instead of holding up the caller.
    """

    def __init__(
        self,
        max_delay: Optional[float] = None,
        unavailable_delay: Optional[float] = None,
        max_attempts: int = 200,
        first_wait: float = 0.002,
        max_wait: float = 0.25,
    ):
        self.max_delay = _env.number("LINEAGE_RETRY_SECONDS", 10.0) if max_delay is None else max_delay
        if unavailable_delay is None:
            # Its default is no longer than the other budget; a value set is taken as it is
            # (LINEAGE_RETRY_UNAVAILABLE_SECONDS=30 was cut to LINEAGE_RETRY_SECONDS' 10 without a word).
            unavailable_delay = _env.number("LINEAGE_RETRY_UNAVAILABLE_SECONDS", min(self.max_delay, 2.0))
        self.unavailable_delay = unavailable_delay
        self.max_attempts = max_attempts
        self.first_wait = first_wait
        self.max_wait = max_wait

    def _stop(self, state: tenacity.RetryCallState) -> bool:
        exc = state.outcome.exception() if state.outcome is not None else None
        budget = self.max_delay if isinstance(exc, mlmd_errors.AbortedError) else self.unavailable_delay
        return (state.seconds_since_start or 0.0) >= budget or state.attempt_number >= self.max_attempts

    def retrying(self) -> tenacity.Retrying:
        return tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(RETRIABLE),
            wait=tenacity.wait_random_exponential(multiplier=self.first_wait, max=self.max_wait),
            stop=self._stop,
            reraise=True,
        )


def _connect_timeout() -> float:
    """Seconds a database server has to answer (LINEAGE_CONNECT_TIMEOUT_SECONDS)."""
    return _env.number("LINEAGE_CONNECT_TIMEOUT_SECONDS", CONNECT_TIMEOUT, above=True)


_UNIQUE_MARKERS = ("duplicate key", "unique constraint", "duplicate entry", "already exists")


def _unique_violation(exc: BaseException) -> bool:
    # Two writers creating the same type, context or external id at once:
    # MLMD reports the database's unique-index error as INTERNAL on
    # PostgreSQL and MySQL. It means "already exists": re-read and go on.
    text = str(exc).lower()
    return any(marker in text for marker in _UNIQUE_MARKERS)


def _overloaded(exc: BaseException) -> bool:
    # A gRPC server at its limit of concurrent calls ("Concurrent RPC limit
    # exceeded!", grpc.server's maximum_concurrent_rpcs) or out of a quota
    # answers RESOURCE_EXHAUSTED: an overload that passes, retried (then
    # spooled) as a server that does not answer is. Not a message larger
    # than it takes: that one is refused again whenever it is sent.
    return "larger than max" not in str(exc)


class _Overloaded(mlmd_errors.UnavailableError):
    """RESOURCE_EXHAUSTED of an overloaded server (see _overloaded), retried
    as UNAVAILABLE is, and told as what it is: the server answered."""


def overload(exc: BaseException) -> Optional[str]:
    """What an overloaded server answered (``RESOURCE_EXHAUSTED: Concurrent
    RPC limit exceeded!``), when *exc* is its answer or a failure it made
    (a StoreUnavailableError, a retry's _Overloaded); None otherwise."""
    if isinstance(exc, StoreUnavailableError):
        return exc.overload
    if isinstance(exc, _Overloaded):
        exc = exc.__cause__ or exc
    if isinstance(exc, mlmd_errors.ResourceExhaustedError) and _overloaded(exc):
        return f"RESOURCE_EXHAUSTED: {_first_line(exc)}"
    return None


def _conflict(exc: BaseException) -> bool:
    # Two writers that took locks in opposite orders (the same new artifacts
    # in another order), or a serialization failure: the database aborts
    # one transaction and says to run it again. MLMD reports it as INTERNAL.
    text = str(exc).lower()
    return any(
        marker in text
        for marker in ("deadlock detected", "deadlock found when trying to get lock", "could not serialize access")
    )


def _connect_error(exc: BaseException) -> bool:
    # MLMD reports a database it cannot open as Internal/Unknown with a
    # driver message; treat those as "unavailable" so they are retried.
    text = str(exc).lower()
    # A driver error with no text (libpq on a dead connection; MySQL's
    # reconnect with an empty errno) is a connection gone too.
    if text.rstrip().endswith("metadata source error:") or "mysql_real_connect failed" in text:
        return True
    return any(
        marker in text
        for marker in ("could not connect", "connection refused", "can't connect", "failed to connect",
                       "connection to server", "lost connection", "server has gone away", "no such host",
                       "server closed the connection", "terminating connection", "connection pointer is null",
                       "no connection to the server", "broken pipe", "connection reset", "the database system is",
                       # A disk that failed or filled up under the store (SQLite: "disk I/O error" on
                       # COMMIT left MLMD's connection in its transaction: every later write was refused,
                       # "Transaction already open.", and lost, even once the disk had room again).
                       "disk i/o error", "database or disk is full", "no space left on device",
                       "transaction already open",
                       # A store that cannot be written now: a SQLite file on a folder mounted
                       # read-only, a PostgreSQL standby or a MySQL server in read-only mode (a
                       # failover under way). The writes were refused and lost; the next
                       # connection may reach the primary, and the spool keeps them meanwhile.
                       "attempt to write a readonly database", "read-only transaction", "--read-only option",
                       # SQLite: a folder mounted read-only (a WAL file needs its -shm written to
                       # open), taken away (a network mount), or not ours: the records are kept
                       # in the spool, for `lineage sync` once it is back (or --into another).
                       "unable to open database file")
    )


class Backend:
    """One MLMD store, shared by every object of a process that names it."""

    def __init__(self, url: StoreURL, retry: Optional[RetryPolicy] = None) -> None:
        self.url = url
        self.retry = retry or RetryPolicy()
        self._lock = threading.RLock()
        renew_after_fork(self, "_lock", threading.RLock)
        _live.add(self)
        self._mlmd: Optional[metadata_store.MetadataStore] = None
        self._pid: Optional[int] = None
        self._type_ids: Dict[Tuple[str, str], int] = {}
        # The properties registered for each: a class redefined with a new
        # field (a notebook cell run again) registers its type again.
        self._type_props: Dict[Tuple[str, str], FrozenSet[str]] = {}
        # (kind, name) -> (the stored type, the properties it declares with
        # another kind than lineage's): see clash()
        self._type_clashes: Dict[Tuple[str, str], Tuple[Any, FrozenSet[str]]] = {}
        self._type_kinds: Dict[Tuple[str, str], Dict[str, int]] = {}  # the kinds the store declares
        # Type protos found covered (the shared ones of codec, by identity):
        # the check costs one dict lookup per artifact on the write path.
        self._covered: Dict[int, Tuple[Any, int]] = {}
        # Whether strings with a backslash must be escaped (PostgreSQL
        # behind). Known from the URL, or probed once for a gRPC service.
        self._mangles: Optional[bool] = None if url.is_remote else url.mangles_backslashes
        self._probe_after = 0.0
        self._unreachable: Optional[StoreUnavailableError] = None  # what the last probe met
        # What the TLS probe (_tls_answer) found in this failure streak: asked
        # once, not at each background retry of the spool (every few seconds,
        # a handshake and a private key file each), until a call succeeds.
        # Only a server's answer is kept: None (nothing there, no TLS) may be
        # a server going down or not up yet, and one speaking TLS next.
        self._tls_probed: Optional[str] = None
        #: Whether the store takes put_lineage_subgraph (an MLMD service
        #: older than the method answers UNIMPLEMENTED: see Writer._send).
        self.has_subgraph = True

    # ------------------------------------------------------------------ connection

    @property
    def mlmd(self) -> metadata_store.MetadataStore:
        """The MLMD store object, (re)connected after a fork."""
        with self._lock:
            if self._mlmd is None or self._pid != os.getpid():
                config = self.url.connection_config()
                if self.url.scheme in ("postgresql", "mysql"):
                    _server_answers(self.url)
                had_handlers = bool(logging.root.handlers)
                try:
                    store = (_GrpcClient if self.url.is_remote else metadata_store.MetadataStore)(config)
                except (mlmd_errors.StatusError, RuntimeError) as exc:
                    # MLMD raises a bare RuntimeError when it cannot open the
                    # database. A server that does not answer may come back:
                    # retry. A SQLite file that cannot be opened will not,
                    # unless it is only locked.
                    if isinstance(exc, RETRIABLE):
                        raise
                    text = str(exc).lower()
                    if any(m in text for m in ("concurrent writes aborted", "retry the connection", "retry connection")):
                        # Opening runs MLMD's schema check in a transaction;
                        # with max_num_retries=1, another writer holding the
                        # SQLite lock fails it, and processes opening a fresh
                        # file at once see it half made ("There are a subset
                        # of tables ... Please retry the connection"; MySQL:
                        # "MLMDEnv table exists but no schema_version ...
                        # Please retry connection"): a conflict, retried like one.
                        raise mlmd_errors.AbortedError(f"cannot open store: {exc}") from exc
                    if self.url.scheme == "postgresql" and not POSTGRESQL_PLAIN_DATABASE.fullmatch(self.url.database or "mlmd"):
                        # The server answered (checked above). MLMD creates a
                        # missing database by its name unquoted: "a.b" is a
                        # syntax error, "MyDb" made a stray "mydb" and then
                        # "MyDb" did not exist. Said, and still retried (and
                        # spooled): once someone creates it, the writes land.
                        database = self.url.database or ""
                        made = f" (MLMD may have made {database.lower()!r})" if database.lower() != database else ""
                        raise mlmd_errors.UnavailableError(
                            f"cannot connect: {_first_line(exc)}; if the database {database!r} does not exist, MLMD "
                            f"cannot create it: it writes the name unquoted, which PostgreSQL folds to lowercase{made} "
                            "and where only letters, digits, '_' and '$' may be; create it yourself "
                            f"(CREATE DATABASE \"{database}\") or use a lowercase name"
                        ) from exc
                    if self.url.scheme in ("postgresql", "mysql") or _connect_error(exc) or "locked" in str(exc):
                        raise mlmd_errors.UnavailableError(f"cannot connect: {exc}") from exc
                    raise StoreError(f"cannot open store {self.url.redacted()}: {exc}", cause=exc) from exc
                finally:
                    _leave_logging_alone(had_handlers)
                if self.url.is_remote:
                    # The gRPC client retries AbortedError itself with
                    # multi-second sleeps; lineage's own retry is faster.
                    store._max_num_retries = 1
                self._mlmd = store
                self._pid = os.getpid()
            return self._mlmd

    def close(self) -> None:
        """Drop the connection; the next call reconnects.

        An in-memory store lives only as long as its connection, so it is
        never dropped.
        """
        with self._lock:
            if self.url.scheme != "memory":
                self._mlmd = None

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call an MLMD store method, retrying transient failures.

        Raises:
            StoreUnavailableError: the store stayed unreachable or locked
                through the retry budget.
            ml_metadata.errors.StatusError: any other MLMD error, unchanged.
        """
        return self.run(lambda store: getattr(store, method)(*args, **kwargs), what=method)

    def run(self, fn: Callable[[metadata_store.MetadataStore], T], what: str = "call") -> T:
        """Run ``fn(mlmd_store)`` under the lock with retries."""
        started = time.monotonic()
        had_handlers = bool(logging.root.handlers)
        try:
            with self._lock:
                result = fn(self.mlmd)
            self._tls_probed = None  # the store answers: a failure to come is probed anew
            return result
        except RETRIABLE as exc:
            _leave_logging_alone(had_handlers)  # MLMD logs a failed call
            self._on_retriable(exc)
            if not isinstance(exc, mlmd_errors.AbortedError) and time.monotonic() - started >= self.retry.unavailable_delay:
                # A call that waited out its deadline (a server that takes the
                # connection and never answers) has spent the budget already.
                raise self._unavailable(what, exc) from exc
        except mlmd_errors.ResourceExhaustedError as exc:
            _leave_logging_alone(had_handlers)  # MLMD logs a failed call
            if not _overloaded(exc):
                raise
        except (mlmd_errors.InternalError, mlmd_errors.UnknownError) as exc:
            _leave_logging_alone(had_handlers)  # MLMD logs a failed call
            if _unique_violation(exc):
                raise mlmd_errors.AlreadyExistsError(str(exc)) from exc
            if _conflict(exc):
                pass  # retried below, as the AbortedError it is
            elif not _connect_error(exc):
                raise
            else:
                self.close()
        # Slow path: only calls that failed transiently build the retry machinery.
        try:
            for attempt in self.retry.retrying():
                with attempt:
                    try:
                        with self._lock:
                            result = fn(self.mlmd)
                        self._tls_probed = None
                        return result
                    except RETRIABLE as exc:
                        self._on_retriable(exc)
                        log.debug("retrying %s after %s", what, type(exc).__name__)
                        raise
                    except mlmd_errors.ResourceExhaustedError as exc:
                        if _overloaded(exc):
                            raise _Overloaded(str(exc)) from exc
                        raise
                    except (mlmd_errors.InternalError, mlmd_errors.UnknownError) as exc:
                        if _unique_violation(exc):
                            raise mlmd_errors.AlreadyExistsError(str(exc)) from exc
                        if _conflict(exc):
                            raise mlmd_errors.AbortedError(str(exc)) from exc
                        if _connect_error(exc):
                            self.close()
                            raise mlmd_errors.UnavailableError(str(exc)) from exc
                        raise
        except RETRIABLE as exc:
            raise self._unavailable(what, exc) from exc
        finally:
            _leave_logging_alone(had_handlers)
        raise AssertionError("unreachable")  # pragma: no cover

    def _unavailable(self, what: str, exc: BaseException) -> StoreUnavailableError:
        busy = overload(exc)
        if busy:
            # It answered, and had no room for the call (its last answer in
            # the retry budget): not "did not answer", which sent the user
            # looking for a server that is down.
            return StoreUnavailableError(f"store {self.url.redacted()} is overloaded ({what}): {busy}", cause=exc, overload=busy)
        detail = _first_line(exc)
        tls = _tls_refusal(self.url, detail, self._tls_answer) if self.url.is_remote else None
        if tls:
            # gRPC reports a TLS mismatch as UNAVAILABLE, like a server that
            # is down: the writes are spooled all the same (retried, in case
            # the server is changed), and the user is told what to fix.
            return StoreUnavailableError(
                f"store {self.url.redacted()} cannot be used ({what}): {tls} (gRPC: {type(exc).__name__}: {detail})",
                cause=exc,
                refusal=tls,
            )
        if self.url.scheme in ("postgresql", "mysql") and _login_failed(detail):
            # MLMD says only "connection pointer is NULL" or "errno: , error:"
            # when it could not log in or open the database.
            reason = _refusal(self.url)
            if reason:  # what the server said first: MLMD's own words say nothing
                return StoreUnavailableError(
                    f"store {self.url.redacted()} cannot be used ({what}): {reason} "
                    f"(MLMD: {type(exc).__name__}: {detail})",
                    cause=exc,
                )
        said = _MYSQL_REFUSAL.search(detail) if self.url.scheme == "mysql" else None
        if said:
            # The server answered, with its reason ("Unknown database 'x'"):
            # not a server that "did not answer", as PostgreSQL's refusal is not.
            where = self.url.options.get("socket") or f"{self.url.host or '127.0.0.1'}:{self.url.port}"
            return StoreUnavailableError(
                f"store {self.url.redacted()} cannot be used ({what}): the server at {where} refused it: "
                f"{said.group(1).strip()} (MLMD: {type(exc).__name__}: {detail})",
                cause=exc,
            )
        return StoreUnavailableError(
            f"store {self.url.redacted()} did not answer {what}: {type(exc).__name__}: {detail}", cause=exc
        )

    def _tls_answer(self) -> Optional[str]:
        """:func:`_tls_answer` for this store, asked once per failure streak
        (until it answers: no answer is asked again at the next failure)."""
        if self._tls_probed is None:
            self._tls_probed = _tls_answer(self.url)
        return self._tls_probed

    def _on_retriable(self, exc: BaseException) -> None:
        if isinstance(exc, (mlmd_errors.UnavailableError, mlmd_errors.DeadlineExceededError)) and self.url.is_remote:
            # A fresh channel reconnects at once instead of waiting out
            # gRPC's reconnect backoff.
            self.close()

    def mangles_backslashes(self) -> bool:
        """Whether the database behind this store breaks on a backslash.

        MLMD's PostgreSQL driver builds invalid SQL for a string with a
        backslash; MySQL and SQLite store it as is. Behind a gRPC service the
        database is unknown, so it is probed once, with a read that carries a
        backslash (PostgreSQL answers it with a syntax error). Until the
        service answers, lineage plays safe and escapes.
        """
        try:
            return self.check_mangling()
        except StoreUnavailableError:
            return True

    def check_mangling(self, probe: bool = True) -> bool:
        """:meth:`mangles_backslashes`, telling when the probe found the
        store unreachable (a write then goes to the spool at once, rather
        than waiting out the retry budget a second time).

        Args:
            probe: False to answer without asking the service (True,
                escape, while unknown): writes are going to the spool.

        Raises:
            StoreUnavailableError: the service did not answer the probe.
        """
        known = self._mangles
        if known is not None:
            return known
        if not probe:
            return True
        if time.monotonic() < self._probe_after:
            if self._unreachable is not None:  # the last probe found no one: no need to wait again
                raise self._unreachable
            return True
        self._unreachable = None
        from lineage.store import _codec

        try:
            self.type_id("context", _codec.workspace_type())
            self.run(
                lambda s: s.get_context_by_type_and_name(_codec.WORKSPACE_TYPE_NAME, BACKSLASH_PROBE),
                what="get_context_by_type_and_name",
            )
            self._mangles = False
        except mlmd_errors.NotFoundError:
            self._mangles = False
        except (mlmd_errors.InternalError, mlmd_errors.InvalidArgumentError, mlmd_errors.UnknownError) as exc:
            if _connect_error(exc):
                self._probe_after = time.monotonic() + 10.0
                return True
            self._mangles = True
        except StoreUnavailableError as exc:  # ask again later; escape meanwhile
            self._probe_after = time.monotonic() + 10.0
            self._unreachable = exc
            raise
        except Exception:  # escape, and ask again later
            self._probe_after = time.monotonic() + 10.0
            return True
        return self._mangles

    def cached_type_id(self, kind: str, name: str, proto: Any = None) -> Optional[int]:
        """The type id if this process registered the type already (with
        every property of *proto*, when given)."""
        if proto is not None:
            hit = self._covered.get(id(proto))
            if hit is not None and hit[0] is proto:
                return hit[1]  # registered properties only grow: covered stays covered
        type_id = self._type_ids.get((kind, name))
        found = self._type_clashes.get((kind, name))
        if type_id is not None and found is not None and (found[1] if proto is None else _clashing(proto, found[0])):
            return None  # the write checks its records against it (see clash)
        if type_id is not None and proto is not None:
            if not self._covers((kind, name), proto):
                return None
            self._covered[id(proto)] = (proto, type_id)
        return type_id

    def clashes(self, proto: Any, sent: Any) -> List[Tuple[str, str]]:
        """The properties of *sent* (an artifact of type *proto*) the store's
        type declares with another kind (a field whose kind changed since an
        earlier version of the class registered it), each with what to say
        of it: they cannot be sent as typed properties (their values are in
        ``__ALL_META__``, the record is stored; see Writer.submit)."""
        found = self._type_clashes.get(("artifact", proto.name))
        if not found:
            return []
        stored = found[0]
        # This class's own clashes: another class of the name (the one a
        # notebook cell defined before) may clash where this one does not.
        hit = sorted(n for n in _clashing(proto, stored).intersection(sent) if stored.properties[n] != pb.STRUCT)
        return [(name, _kept_message(proto, stored, name)) for name in hit]

    def held_as_structs(self, proto: Any, sent: Any) -> List[str]:
        """The properties of *sent* (an artifact of type *proto*) the store's
        type declares as STRUCT where the class has another kind: they are
        sent as structs (see codec.as_struct_value), not refused.

        lineage before 91df11f typed every field of a class with one
        unresolvable postponed annotation (a name imported under
        TYPE_CHECKING) as JSON, and registered them so; the class, unchanged,
        now resolves ``ratio: float | None`` to DOUBLE. A struct holds any
        value, as that version stored it (``{"value": 0.5}``), and the record
        reads back from its ``__ALL_META__``.
        """
        found = self._type_clashes.get(("artifact", proto.name))
        if not found:
            return []
        stored = found[0]
        return sorted(n for n in _clashing(proto, stored).intersection(sent) if stored.properties[n] == pb.STRUCT)

    def _covers(self, key: Tuple[str, str], proto: Any) -> bool:
        registered = self._type_props.get(key, frozenset())
        if not all(name in registered for name in proto.properties):
            return False
        # A class redefined with a field of another kind (a notebook cell run
        # again): not covered, so that type_id asks the store and notes the clash.
        # Once the store was asked (the stored type is known), a kind it
        # declares otherwise is a clash clash() names: covered, not asked again.
        kinds = self._type_kinds.get(key, {})
        stored = self._type_clashes.get(key, (None,))[0]
        for name, kind in proto.properties.items():
            known = kinds.get(name, kind)
            if known != kind and (stored is None or stored.properties.get(name) != known):
                return False
        return True

    # ------------------------------------------------------------------ types

    def type_id(self, kind: str, proto: Any) -> int:
        """Register a type once per process and return its id.

        *kind* is "artifact", "execution" or "context"; *proto* the type,
        whose ``external_id`` is set to its name so that concurrent
        registration on PostgreSQL cannot create two types of one name. A
        type of the name that exists keeps its own external id (or none):
        see _keeping_external_id.
        """
        key = (kind, proto.name)
        cached = self._type_ids.get(key)
        if cached is not None and self._covers(key, proto):
            return cached
        if not proto.external_id:
            proto.external_id = proto.name
        put = getattr(metadata_store.MetadataStore, f"put_{kind}_type")
        get = getattr(metadata_store.MetadataStore, f"get_{kind}_type")
        last: Optional[BaseException] = None
        for _ in range(5):
            try:
                # Read first: MLMD's put overwrites the external id of a type
                # of the name another tool made (raw MLMD, the Kubeflow SDK):
                # that type is sent without one, so that it keeps its own.
                # A type that holds every property as declared needs no put
                # (the common case, a store lineage wrote to before): one read,
                # not a write, per type and process.
                try:
                    found = self.run(lambda s: get(s, proto.name), what=f"get_{kind}_type")
                except mlmd_errors.NotFoundError:
                    found = None
                if found is not None and found.name != proto.name:
                    raise InvalidTypeError(_another_name_message(kind, proto, found))  # no retry mends it
                if found is not None and _registered(proto, found):
                    type_id = found.id
                else:
                    sent = proto if found is None else _keeping_external_id(proto, found)

                    def register(s: Any, sent: Any = sent) -> Any:
                        return put(s, sent, can_add_fields=True, can_omit_fields=True)

                    type_id = self.run(register, what=f"put_{kind}_type")
            except mlmd_errors.AlreadyExistsError as exc:
                # Another process registered it between our calls: re-read.
                last = exc
                try:
                    stored = self.run(lambda s: get(s, proto.name), what=f"get_{kind}_type")
                except mlmd_errors.NotFoundError:
                    continue
                if stored.name != proto.name:
                    raise InvalidTypeError(_another_name_message(kind, proto, stored)) from exc
                clashing = _clashing(proto, stored)
                if clashing and kind == "artifact" and not set(proto.properties) <= set(stored.properties):
                    # It also has properties the store lacks (another tool's
                    # type; a class that gained a field): register them, the
                    # clashing ones left out, so that its records that do not
                    # set those can still be stored.
                    rest = type(proto)()
                    rest.CopyFrom(_keeping_external_id(proto, stored))
                    for name in clashing:
                        del rest.properties[name]
                    try:
                        def extend(s: Any, rest: Any = rest) -> Any:
                            return put(s, rest, can_add_fields=True, can_omit_fields=True)

                        self.run(extend, what=f"put_{kind}_type")
                        stored = self.run(lambda s: get(s, proto.name), what=f"get_{kind}_type")
                    except mlmd_errors.NotFoundError:
                        continue  # removed meanwhile: again
                    except mlmd_errors.StatusError:
                        # The store will not extend it (another base_type, its
                        # external id held by another type, a change meanwhile):
                        # the class is refused as before: its records are left
                        # out, not the whole write.
                        pass
                    else:
                        clashing = _clashing(proto, stored)
                if set(proto.properties) <= set(stored.properties):
                    # Usable: a record that sets a property of another kind
                    # cannot be stored in it (see clashing()), the others can.
                    type_id = stored.id
                    self._type_clashes[key] = (stored, clashing)
                    self._type_kinds[key] = dict(stored.properties)
                elif clashing and kind == "artifact":
                    raise InvalidTypeError(_clash_message(proto, stored, sorted(clashing)[0])) from exc  # no retry mends it
                else:
                    continue
            except mlmd_errors.StatusError as exc:
                raise StoreError(f"cannot register {kind} type {proto.name!r}: {_first_line(exc)}", cause=exc) from exc
            self._type_ids[key] = type_id
            self._type_kinds[key] = {**dict(proto.properties), **self._type_kinds.get(key, {})}
            self._type_props[key] = self._type_props.get(key, frozenset()) | frozenset(proto.properties)
            return type_id
        raise StoreError(f"cannot register {kind} type {proto.name!r}: {_first_line(last)}", cause=last)


_KIND_NAME = pb.PropertyType.Name  # type: ignore[attr-defined]


def _clashing(proto: Any, stored: Any) -> FrozenSet[str]:
    """The properties of *proto* the stored type declares with another kind
    (a record class whose field changed kind, ``step: int`` then ``step:
    str``: a value of it cannot be stored, and the whole write it was in
    failed)."""
    return frozenset(n for n, v in proto.properties.items() if n in stored.properties and stored.properties[n] != v)


def _registered(proto: Any, stored: Any) -> bool:
    """Whether the stored type already holds everything a put of *proto*
    would register: every property, of the same kind, and its base type."""
    if proto.HasField("base_type") and stored.base_type != proto.base_type:
        return False
    return all(stored.properties.get(name) == kind for name, kind in proto.properties.items())


def _keeping_external_id(proto: Any, stored: Any) -> Any:
    """*proto* to put over the *stored* type of its name, without lineage's
    external id when the stored type has another one or none: MLMD's put
    sets the external id it is sent, and the type is another tool's (raw
    MLMD, the Kubeflow SDK). That id guards only the creation of a type (two
    processes on PostgreSQL each inserting one of the name); a type that
    exists is found by name by every later put, and MLMD never deletes one.
    Setting it on a type that had none would change another tool's type,
    and fails if another type (of any kind: the id is unique across them)
    holds that id."""
    if stored.external_id == proto.external_id:
        return proto
    sent = type(proto)()
    sent.CopyFrom(proto)
    sent.ClearField("external_id")
    return sent


def _another_name_message(kind: str, proto: Any, stored: Any) -> str:
    # MySQL's collation ignores case and trailing spaces: asked for one type,
    # it answers with another of a name equal there. Taking its id stored the
    # records of one class as the other's type (read back as the other class).
    return (
        f"the store's {kind} type {stored.name!r} is one name with {proto.name!r} as this store compares names "
        f"(its collation ignores case and trailing spaces): records of {proto.name!r} cannot be stored here "
        "(give the class an ARTIFACT_TYPE_NAME that differs otherwise)"
    )


def _clash_message(proto: Any, stored: Any, name: str) -> str:
    return (
        f"the store's artifact type {proto.name!r} declares {name!r} as {_KIND_NAME(stored.properties[name])}, "
        f"and this record class's {name!r} is {_KIND_NAME(proto.properties[name])}: its records that set it "
        "cannot be stored here (keep the field's kind, or give the class another ARTIFACT_TYPE_NAME)"
    )


def _kept_message(proto: Any, stored: Any, name: str) -> str:
    return (
        f"the store's artifact type {proto.name!r} declares {name!r} as {_KIND_NAME(stored.properties[name])}, "
        f"and this record class's {name!r} is {_KIND_NAME(proto.properties[name])}: its records are stored with "
        f"{name!r} in __ALL_META__ only, not as a typed property (keep the field's kind, or give the class another "
        "ARTIFACT_TYPE_NAME)"
    )


def _leave_logging_alone(had_handlers: bool) -> None:
    """Undo the logging set-up MLMD's client makes as a side effect.

    MLMD logs through absl, whose ``log()`` calls ``logging.basicConfig()``
    when the root logger has no handler: the user's process would then have
    root logging configured (their own later ``basicConfig`` a no-op) and
    see MLMD's and lineage's log records printed. A handler added that way
    during an MLMD call is removed.
    """
    root = logging.root
    if not had_handlers and root.handlers:
        for handler in list(root.handlers):
            if type(handler) is logging.StreamHandler:
                root.removeHandler(handler)


#: Seconds a database server has to answer before lineage connects to it.
CONNECT_TIMEOUT = 5.0
# PostgreSQL's SSLRequest: the server answers it with one byte, at once.
_PG_SSL_REQUEST = struct.pack("!ii", 8, 80877103)


def _server_answers(url: StoreURL) -> None:
    """Check that a PostgreSQL or MySQL server answers, within CONNECT_TIMEOUT.

    MLMD's clients wait without a timeout, and hold the GIL while they
    wait: a server that accepts the connection but never answers (frozen,
    or a firewall or proxy in between) would stop the whole process. A
    PostgreSQL server answers an SSLRequest with one byte; a MySQL server
    speaks first (its greeting). Both close the probe without logging it.

    Raises:
        ml_metadata.errors.UnavailableError: no answer in time.
    """
    if url.options.get("socket"):
        return  # a local socket file: no network in between
    host, port = url.host or "127.0.0.1", int(url.port or 0)
    timeout = _connect_timeout()
    try:
        with socket.create_connection((host, port), timeout=timeout) as probe:
            if url.scheme == "postgresql":
                probe.sendall(_PG_SSL_REQUEST)
            if not probe.recv(1):
                raise OSError("the server closed the connection")
    except OSError as exc:
        reason = "did not answer" if isinstance(exc, socket.timeout) else str(exc) or type(exc).__name__
        raise mlmd_errors.UnavailableError(
            f"cannot connect: {url.redacted()}: {reason} (within {timeout:g} s)"
        ) from exc


# MLMD's report of a MySQL statement the server refused with a reason: "... failed:
# errno: Unknown database 'x', error: Unknown database 'x'" (no reason: "errno: , error:").
_MYSQL_REFUSAL = re.compile(r"mysql_\w+ failed: errno: .*?, error: (\S.*)$")


def _login_failed(detail: str) -> bool:
    """Whether MLMD's error is its no-reason report of a failed login or a
    database it could not open."""
    return (
        "connection pointer is NULL" in detail
        or "mysql_real_connect failed: errno: ," in detail
        or detail.endswith("PostgreSQL metadata source error:")
    )


def _refusal(url: StoreURL) -> Optional[str]:
    """Why a server refused MLMD's connection, as far as known; None when
    it does not answer at all.

    PostgreSQL tells an unknown role, a missing database or a pg_hba.conf
    rule in reply to a startup message, before any password: asked on this
    failure path only, and the exchange is closed at once. For MySQL (and
    PostgreSQL asking for a password) the reason needs a login, so the
    message names what to check.
    """
    where = f"{url.host or '127.0.0.1'}:{url.port}"
    hint = f"the server at {where} answers: check the user, password and database in the URL"
    if url.scheme == "mysql" and not url.options.get("socket") and (url.host or "").lower() == "localhost":
        # MySQL's client library takes "localhost" for its Unix socket (at
        # its compiled-in path), not TCP to the server that answers here.
        hint += (
            "; MySQL's client takes host 'localhost' for its Unix socket, not TCP: "
            "write 127.0.0.1 for TCP, or mysql://user@/db?socket=PATH"
        )
    timeout = _connect_timeout()
    if url.options.get("socket"):
        path = url.options["socket"]
        if not os.path.exists(path):
            return f"no socket file at {path}: check ?socket= (the server's socket is its @@socket)"
        return f"the socket {path} is there: check the user, password and database in the URL"
    if url.scheme != "postgresql":
        try:
            _server_answers(url)
        except mlmd_errors.UnavailableError:
            return None
        return hint
    answer = _postgresql_answer(url, timeout)
    if answer is None:
        return None
    if answer[0] != b"E":
        return hint
    return _refused_it(url, answer[1])


#: SQLSTATE classes of a PostgreSQL refusal that waiting may end: 57 (the
#: database system is starting up, shutting down, in recovery), 53 (too
#: many connections), 08 (a connection failure).
_PG_PASSING_REFUSALS = ("57", "53", "08")


#: MySQL's refusals of a login that waiting does not end: the user or its
#: password (1045 ER_ACCESS_DENIED_ERROR, 1698 ER_ACCESS_DENIED_NO_PASSWORD_ERROR),
#: a host it does not take logins from (1130 ER_HOST_NOT_PRIVILEGED). Not
#: 1040 (too many connections) nor 1129 (host blocked): those pass.
_MYSQL_LASTING_REFUSALS = (1045, 1698, 1130)


def login_refused(url: StoreURL, exc: BaseException) -> Optional[str]:
    """Why the database server refused MLMD's login for good (a role or a
    database that does not exist, a pg_hba.conf rule; MySQL: the user or its
    password), as the server said it; None when it may still let it in
    (starting up, too many connections), did not answer, or the reason is
    not known.

    MySQL gives its reason after a login only, and MLMD reports none
    ("errno: , error:"): the login is made again, on this failure path only
    (see :func:`_mysql_answer`).
    """
    if url.options.get("socket") or not _login_failed(_first_line(exc)):
        return None
    if url.scheme == "mysql":
        if (url.host or "").lower() == "localhost":
            # MLMD's login went to the Unix socket (see _refusal), the probe's
            # would go over TCP: another account ('u'@'localhost' is refused
            # as 'u'@'127.0.0.1'), its answer is not about MLMD's login.
            return None
        refused = _mysql_answer(url, _connect_timeout())
        if refused is None or refused[0] not in _MYSQL_LASTING_REFUSALS:
            return None
        return _refused_it(url, {b"M": refused[1]})
    if url.scheme != "postgresql":
        return None
    answer = _postgresql_answer(url, _connect_timeout())
    if answer is None or answer[0] != b"E" or answer[1].get(b"C", "")[:2] in _PG_PASSING_REFUSALS:
        return None
    return _refused_it(url, answer[1])


def _refused_it(url: StoreURL, fields: Dict[bytes, str]) -> str:
    """A server's refusal of MLMD's login, as the server said it (b"M")."""
    return f"the server at {url.host or '127.0.0.1'}:{url.port} refused it: {fields.get(b'M', 'no reason given')}"


def _postgresql_answer(url: StoreURL, timeout: float) -> Optional[Tuple[bytes, Dict[bytes, str]]]:
    """What a PostgreSQL server answers MLMD's login (a startup message with
    its user and database, no password): the kind of its last message (b"E":
    refused, b"R": a password asked for, b"Z": logged in) and an error's
    fields (b"C": SQLSTATE, b"M": message); None when it does not answer."""
    config = url.connection_config().postgresql
    params = b"".join(f"{k}\0{v}\0".encode() for k, v in (("user", config.user), ("database", config.dbname)))
    startup = struct.pack("!ii", 8 + len(params) + 1, 196608) + params + b"\0"
    try:
        with socket.create_connection((config.host, int(config.port)), timeout=timeout) as conn:
            conn.sendall(startup)
            for _ in range(100):  # authentication, then parameters, until ready or refused
                kind, length = struct.unpack("!ci", _read_exactly(conn, 5))
                body = _read_exactly(conn, min(length - 4, 65536))
                if kind == b"E" or (kind == b"R" and body[:4] != b"\0\0\0\0"):
                    break  # refused, or a password is asked for
                if kind == b"Z":  # logged in: say goodbye
                    conn.sendall(b"X\0\0\0\x04")
                    break
    except (OSError, struct.error, ValueError):
        return None
    if kind != b"E":
        return kind, {}
    return kind, dict((f[:1], f[1:].decode("utf-8", "replace")) for f in body.split(b"\0") if f)


_MYSQL_NATIVE = b"mysql_native_password"
# Capabilities of the probe's login: CLIENT_LONG_PASSWORD, CLIENT_PROTOCOL_41,
# CLIENT_SECURE_CONNECTION, CLIENT_PLUGIN_AUTH (no database: the login alone).
_MYSQL_CAPABILITIES = 0x1 | 0x200 | 0x8000 | 0x80000


def _mysql_answer(url: StoreURL, timeout: float) -> Optional[Tuple[int, str]]:
    """The error a MySQL (MariaDB) server answers MLMD's login with, over
    TCP, as (errno, message); None when it lets the login in, does not
    answer, or asks for another authentication than mysql_native_password
    (MLMD's: see its "mysql_native_password used by MLMD" log line).

    The login is MLMD's (user, password as a mysql_native_password
    scramble, never in clear), without a database; a login that succeeds
    is closed at once (COM_QUIT).
    """
    import hashlib

    config = url.connection_config().mysql
    password = config.password.encode()

    def scramble(salt: bytes) -> bytes:
        if not password:
            return b""
        once = hashlib.sha1(password).digest()
        mixed = hashlib.sha1(salt + hashlib.sha1(once).digest()).digest()
        return bytes(a ^ b for a, b in zip(once, mixed))

    def packet(conn: socket.socket) -> Tuple[int, bytes]:
        length, sequence = struct.unpack("<HxB", _read_exactly(conn, 4))  # 3-byte length: 16 MiB packets not read
        return sequence, _read_exactly(conn, length)

    def error(body: bytes) -> Tuple[int, str]:
        message = body[3:]
        if message[:1] == b"#":  # the SQLSTATE, after a '#'
            message = message[6:]
        return struct.unpack("<H", body[1:3])[0], message.decode("utf-8", "replace")

    try:
        with socket.create_connection((config.host, int(config.port)), timeout=timeout) as conn:
            sequence, greeting = packet(conn)
            if greeting[:1] == b"\xff":  # refused before any login (too many connections, host blocked)
                return error(greeting)
            if greeting[:1] != b"\x0a":
                return None
            rest = greeting[greeting.index(b"\0", 1) + 1:]  # after the server version
            salt = rest[4:12]
            rest = rest[13 + 2 + 1 + 2 + 2 + 1 + 10:]  # filler, capabilities, charset, status, more, length, reserved
            salt += rest[:12]
            plugin = rest[13:].split(b"\0", 1)[0]
            if plugin and plugin != _MYSQL_NATIVE:
                return None
            answer = scramble(salt)
            login = (
                struct.pack("<IIB23x", _MYSQL_CAPABILITIES, 1 << 24, 33)
                + config.user.encode() + b"\0" + bytes([len(answer)]) + answer + _MYSQL_NATIVE + b"\0"
            )
            conn.sendall(struct.pack("<I", len(login))[:3] + bytes([sequence + 1]) + login)
            sequence, reply = packet(conn)
            if reply[:1] == b"\xfe" and reply[1:].split(b"\0", 1)[0] == _MYSQL_NATIVE:  # asked again, a new salt
                answer = scramble(reply[1:].split(b"\0", 1)[1][:20])
                conn.sendall(struct.pack("<I", len(answer))[:3] + bytes([sequence + 1]) + answer)
                sequence, reply = packet(conn)
            if reply[:1] == b"\xff":
                return error(reply)
            if reply[:1] == b"\0":  # logged in: say goodbye
                conn.sendall(b"\x01\0\0\0\x01")
    except (OSError, struct.error, ValueError, IndexError):
        return None
    return None


# gRPC's report of a TLS handshake the client failed, and BoringSSL's reason in it.
_TLS_FAILED = re.compile(r"Tls handshake failed \([^)]*\): (?:.*OPENSSL_internal:)?(?P<reason>.*?)(?:: OK)?$")


def _tls_refusal(url: StoreURL, detail: str, answer: Optional[Callable[[], Optional[str]]] = None) -> Optional[str]:
    """Why a gRPC server refused the connection, when the URL's TLS does
    not match the server's; None when it did not answer (or is unknown).

    gRPC says UNAVAILABLE for all of them. A TLS client's handshake failure
    is in its message (a server without TLS, or a certificate not trusted).
    A server that closes the connection ("Socket closed") without a word is
    asked once more, on this failure path only, by a TLS handshake of
    Python's own: a TLS server answers a plain client that way, and a
    server that requires a client certificate closes a TLS connection
    without one (or with one it does not trust) right after the handshake,
    where a server that accepts the client sends its HTTP/2 settings.
    *answer* gives that handshake's outcome (:func:`_tls_answer` of the URL
    by default; a Backend asks it once per failure streak).
    """
    where = f"{url._url_host()}:{url.port}"
    failed = _TLS_FAILED.search(detail)
    if url.tls and failed:
        if "WRONG_VERSION_NUMBER" in detail:
            return f"the server at {where} does not speak TLS: use grpc:// (without certificates)"
        if "CERTIFICATE_VERIFY_FAILED" in detail:
            reason = failed.group("reason").strip()
            why = reason.partition("CERTIFICATE_VERIFY_FAILED")[2].strip(": ").lower()
            if not why or any(word in why for word in ("issuer", "self signed", "self-signed", "unable to verify")):
                return (
                    f"TLS handshake failed: the server's certificate is not trusted ({reason}): "
                    f"root_certificates= must hold the CA that signed the certificate of the server at {where}"
                )
            # An expired certificate (of the very CA of root_certificates=) is not one of another CA.
            dated = "expired" in why or "not yet valid" in why
            renew = ": it must be renewed (or this machine's clock is wrong)" if dated else ""
            return f"TLS handshake failed: the certificate of the server at {where} was refused ({reason}){renew}"
        return f"TLS handshake with the server at {where} failed: {failed.group('reason').strip()}"
    if "Socket closed" not in detail or "Handshake read failed" in detail:
        return None
    said = answer() if answer is not None else _tls_answer(url)
    if said is None:
        return None
    if not url.tls:
        return f"the server at {where} speaks TLS: use grpcs://{where}?root_certificates=FILE (the CA of its certificate)"
    if said == "closed":
        if "private_key" not in url.tls:
            return (
                f"the server at {where} requires a client certificate (private_key= and certificate_chain=): "
                "it closed the connection after the TLS handshake"
            )
        return (
            f"the server at {where} did not accept the client certificate (certificate_chain=): it closed the connection "
            "after the TLS handshake; it takes one signed by a CA it trusts (lineage serve --tls-client-ca)"
        )
    return None


def _tls_answer(url: StoreURL) -> Optional[str]:
    """What a gRPC server does with a TLS handshake of the URL's client
    certificate (if any), its own certificate not checked: "accepted" (it
    sent HTTP/2 settings), "closed" (it asked for a client certificate, then
    closed the connection or sent an alert, after the handshake or in it),
    "ended" (the same without asking for one), or None: no TLS there, or no
    answer.

    A TLS proxy whose server is down or restarting (stunnel, a load
    balancer) ends the connection after the handshake too: only a server
    that asked for a client certificate is said to refuse the client's.
    """
    import ssl
    import tempfile

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["h2"])
    asked: List[bool] = []

    def heard(conn: Any, direction: str, version: Any, content_type: Any, msg_type: Any, data: Any) -> None:
        if direction == "read" and content_type == 22 and msg_type == 13:  # handshake: CertificateRequest
            asked.append(True)

    try:
        # CPython's hook on each TLS message (ssl.SSLContext._msg_callback,
        # since 3.8). Without it a server that ends the connection is not
        # told from a proxy with nothing behind it: "ended".
        context._msg_callback = heard  # type: ignore[attr-defined]
    except AttributeError:  # pragma: no cover
        pass
    timeout = _connect_timeout()
    try:
        if "private_key" in url.tls and "certificate_chain" in url.tls:
            # ssl takes a certificate and key from a file only: a private one, removed at once.
            fd, path = tempfile.mkstemp(suffix=".pem")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(url.tls["private_key"] + b"\n" + url.tls["certificate_chain"])
                context.load_cert_chain(path)
            finally:
                os.unlink(path)
        with socket.create_connection((url.host or "127.0.0.1", int(url.port or 0)), timeout=timeout) as raw:
            try:
                with context.wrap_socket(raw) as conn:
                    if conn.recv(1):
                        return "accepted"
            except ssl.SSLError as exc:
                if "ALERT" not in (exc.reason or ""):
                    return None
            return "closed" if asked else "ended"
    except (OSError, ValueError):
        return None


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise OSError("the server closed the connection")
        data += chunk
    return data


#: Every Backend of this process, for the fork hook below.
_live: weakref.WeakSet[Backend] = weakref.WeakSet()
#: Connections a forked child inherited: kept referenced, never closed there
#: (closing a PostgreSQL or MySQL connection in the child would end the
#: parent's session on the same socket).
_inherited: List[Any] = []


def _after_fork_in_child() -> None:
    """A forked child connects anew (its locks are fresh: lineage._fork)."""
    for backend in list(_live):
        if backend._mlmd is not None and backend.url.scheme != "memory":
            _inherited.append(backend._mlmd)
            backend._mlmd = None


os.register_at_fork(after_in_child=_after_fork_in_child)


# MLMD puts the whole node it could not write before the reason ("Cannot create
# node for type_id: 10 ... (every property) ...Concurrent writes aborted ..."),
# and the SQL after it ("... query: INSERT INTO ..."): a message of a
# thousand characters, the reason lost in it.
_NODE_DUMP = re.compile(r"Cannot (?:create|update) node for .*?(?=Error when executing query:|Concurrent writes aborted)")
_SQL = re.compile(r"(Error when executing query: .*?) query: .*")


def _first_line(exc: Optional[BaseException]) -> str:
    if exc is None or not str(exc).strip():
        return type(exc).__name__
    line = str(exc).strip().splitlines()[0]
    return _SQL.sub(r"\1", _NODE_DUMP.sub("", line, count=1), count=1)

