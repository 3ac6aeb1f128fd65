"""``@track`` and ``with execution(...)``: one implementation, two forms.

::

    with scope:                       # write 1: execution RUNNING + inputs + contexts
        result = wrapped(*args, **kwargs)
        scope.outputs_from(result)    # write 2: outputs + COMPLETE / FAILED / CANCELED

The decorator makes a fresh :class:`ExecutionScope` for every call (never
per-call state on the shared decorator). The current scope lives in a
``ContextVar``, so nested tracked calls record their parent and asyncio tasks
inherit it.

Write 1 is deferred by ``start_delay`` (default 1 s): a call that ends sooner
costs one write, a longer one shows as RUNNING in the store no later than the
delay after it began (a background thread writes it).

Failures of lineage itself never reach the user's code: they are logged,
warned about once per cause, and the user's result is returned. With
``lineage.init(strict=True)`` they raise instead.
"""

from __future__ import annotations

import asyncio
import atexit
import collections.abc
import concurrent.futures
import contextlib
import contextvars
import copy
import datetime
import functools
import heapq
import inspect
import itertools
import json
import logging
import math
import operator
import os
import queue
import sys
import threading
import time
import traceback
import typing
import weakref
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple, TypeVar, Union, overload

import attrs
import wrapt

from lineage import _config, _env, _mapping, _provenance
from lineage._fork import renew_after_fork
from lineage.errors import InvalidStoreURLError, InvalidTypeError, InvalidValueError, LineageError, describe, warn_never_raised
from lineage.records import Artifact, _now, check_current, check_property_name, check_text, field_names, property_name_key
from lineage.store import _digest
from lineage.store._codec import exact_as_property, new_external_id
from lineage.store._spool import logging_configured
from lineage.store._writer import (
    INPUT,
    OUTPUT,
    PATH_INDEX_MAX,
    PATH_INDEX_MIN,
    Logged,
    id_given_for,
    referenced_id,
    written_when_logged,
)

__all__ = ["ExecutionScope", "current_execution", "execution", "track"]

log = logging.getLogger("lineage")

F = TypeVar("F", bound=Callable[..., Any])

DEFAULT_START_DELAY = 1.0
_ERROR_LIMIT = 4096

# json.dumps(params, ensure_ascii=False, default=repr), without building an
# encoder per call.
_PARAMS_JSON = json.JSONEncoder(ensure_ascii=False, default=repr)
# Parameter names already found valid (the check is a pure function of the name).
_good_param_names: set = set()

_current: contextvars.ContextVar[Optional[ExecutionScope]] = contextvars.ContextVar(
    "lineage_current_execution", default=None
)


_workspace_module: Any = None


def _workspace() -> Any:
    """lineage.workspace, which imports this module: imported at first use.
    Not by an import statement in each call's code: one costs ~3 us a call
    (the module is looked up and asked whether it is still being imported)."""
    global _workspace_module
    if _workspace_module is None:
        from lineage import workspace

        _workspace_module = workspace
    return _workspace_module


def current_execution() -> Optional[ExecutionScope]:
    """The execution the calling code runs in (``None`` outside any)."""
    return _live(_current.get())


def _live(scope: Optional[ExecutionScope]) -> Optional[ExecutionScope]:
    # A scope exited in another context (a with-block in a generator, or
    # left from another thread) cannot reset this context's variable: it
    # stays set, but an ended execution is nobody's current one.
    # A scope a forked child inherited is its parent process's: the child
    # never sees it end (a Pool made in one block and used in the next
    # recorded the first as the parent), and never ends it.
    while scope is not None and (scope._done or scope._pid != os.getpid()):
        scope = scope._parent
    return scope


def _fail_open(what: str, exc: BaseException) -> None:
    """Report a failure of lineage itself without raising (unless strict)."""
    if _config.strict():
        raise exc
    first = _config.first_warning((what, type(exc).__name__))
    logged = first and warn_never_raised(
        f"lineage could not {what} ({type(exc).__name__}: {exc}); your code goes on. "
        "Further failures of this kind are only logged (logger 'lineage')."
    )
    # Without logging set up, a log record is printed to stderr as well as
    # the warning: the first failure of a kind is told once (and once where
    # warnings are errors: the warning was logged instead).
    if not logged and (not first or logging_configured(log)):
        log.warning("lineage could not %s: %s: %s", what, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    elif logged and log.isEnabledFor(logging.DEBUG):  # the traceback a WARNING record would have carried
        log.debug("lineage could not %s: %s: %s", what, type(exc).__name__, exc, exc_info=exc)


# --------------------------------------------------------------------------- options


@attrs.frozen
class _Options:
    name: Optional[str] = None
    workspace: Optional[str] = None
    run: Optional[str] = None
    store: Any = None  # URL string or lineage.Store
    description: Optional[str] = None
    inputs: Any = None
    outputs: Any = None
    exclude: Tuple[str, ...] = ()
    enabled: Optional[bool] = None
    start_delay: Optional[float] = None

    @classmethod
    def checked(cls, where: str, **kwargs: Any) -> _Options:
        from lineage.workspace import Store

        # What MLMD cannot store is refused here, once, not at every call.
        _config.check_optional_name(f"{where}(name)", kwargs.get("name"))
        _config.check_workspace_name(f"{where}(workspace)", kwargs.get("workspace"))
        _config.check_optional_name(f"{where}(run)", kwargs.get("run"))
        _config.check_optional_name(f"{where}(description)", kwargs.get("description"))
        store = kwargs.get("store")
        if store is not None and not isinstance(store, Store):
            if not isinstance(store, str):
                raise InvalidTypeError(f"{where}(store) must be a store URL or a lineage.Store, got {describe(store)}")
            from lineage.store import parse_store_url

            parse_store_url(store)
        exclude = kwargs.get("exclude")
        if exclude is None:
            exclude = ()
        if isinstance(exclude, str):
            exclude = (exclude,)
        if not isinstance(exclude, (list, tuple, set, frozenset)) or not all(isinstance(e, str) for e in exclude):
            raise InvalidTypeError(f"{where}(exclude) must be a list of parameter names, got {describe(exclude)}")
        kwargs["exclude"] = tuple(exclude)
        for field in ("inputs", "outputs"):
            given = kwargs.get(field)
            if isinstance(given, Iterator):  # a generator, consumed once: read here
                kwargs[field] = list(given)
        # execution() is also a with block, which takes records there: say so.
        block = "; in a with block, records: execution(inputs={'raw': DataSet(...)})" if where == "execution" else ""
        block_out = "; in a with block, records: execution(outputs=[Model(...)])" if where == "execution" else ""
        inputs = kwargs.get("inputs")
        if inputs is not None and _records_given(f"{where}(inputs)", inputs) is None:
            if isinstance(inputs, str):
                raise InvalidTypeError(
                    f"{where}(inputs) must be a list of parameter names or a dict of them to record classes, "
                    f"got {inputs!r}{block}"
                )
            if isinstance(inputs, Mapping):
                for key, value in inputs.items():
                    if value is not None and not (isinstance(value, type) and issubclass(value, Artifact)):
                        raise InvalidTypeError(f"{where}(inputs)[{key!r}] must be a record class, got {describe(value)}{block}")
        outputs = kwargs.get("outputs")
        if outputs is not None and _records_given(f"{where}(outputs)", outputs) is None:
            specs = outputs.values() if isinstance(outputs, Mapping) else outputs if isinstance(outputs, (list, tuple)) else [outputs]
            for spec in specs:
                if spec is not None and not (isinstance(spec, type) and issubclass(spec, Artifact)):
                    raise InvalidTypeError(f"{where}(outputs) must name record classes, got {describe(spec)}{block_out}")
        enabled = kwargs.get("enabled")
        if enabled is not None and not isinstance(enabled, bool):
            raise InvalidTypeError(f"{where}(enabled) must be a bool, got {describe(enabled)}")
        _config.check_start_delay(f"{where}(start_delay)", kwargs.get("start_delay"))
        return cls(**kwargs)


# --------------------------------------------------------------------------- start scheduler


class _StartScheduler:
    """One daemon thread that writes the RUNNING state of calls still running
    after their start delay.

    A call is a (deadline, number) entry in a heap, and its scope is kept by
    number only while it runs: a call removes its scope when it ends (most
    end before their delay), so nothing a finished call made stays alive
    for the garbage collector to walk. The thread sleeps until the earliest
    deadline, then drops the entries of calls that ended. A call wakes it
    only when its deadline comes before the thread's wake-up time: with
    nothing to wait for, the thread sleeps for the shortest delay seen (a
    new call's deadline is later), and for good once such a sleep found no
    call. Waking it for each call of a busy loop cost the calls a GIL hand
    over each (measured: one wake per 7 short calls, and 10-30% of
    lineage's Python time per call).

    The writes themselves run on a few daemon worker threads (up to
    WORKERS), so that one slow write (a large input file to hash, a store
    that does not answer) does not hold up the RUNNING state of the others.
    """

    WORKERS = 4
    IDLE_WAIT = 0.05  # seconds: the shortest sleep with nothing to wait for
    MAX_WAIT = 3600.0  # the longest (Condition.wait overflows past threading.TIMEOUT_MAX)

    def __init__(self) -> None:
        # Calls take the plain lock (its context manager is C code); the
        # thread waits on a condition over the same lock.
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap: List[Tuple[float, int]] = []
        self._running: Dict[int, ExecutionScope] = {}  # number -> scope, while it runs
        self._counter = itertools.count()
        self._thread: Optional[threading.Thread] = None
        self._pid = os.getpid()
        self._due: queue.SimpleQueue[ExecutionScope] = queue.SimpleQueue()  # start writes to make
        self._workers = 0
        self._idle = 0
        self._writing: Set[ExecutionScope] = set()  # scopes being written now
        self._wake_at = math.inf  # when the thread wakes by itself (monotonic)
        self._shortest = math.inf  # the shortest start delay of the calls since the thread last slept idle
        self._added = False  # a call was added since the thread last looked

    def after_fork_in_child(self) -> None:
        """The threads did not come along, and a lock they held stays held:
        start afresh (calls of the child schedule their own start writes)."""
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._heap, self._running, self._thread, self._pid = [], {}, None, os.getpid()
        self._due, self._workers, self._idle = queue.SimpleQueue(), 0, 0
        self._wake_at, self._shortest, self._added = math.inf, math.inf, False
        writing, self._writing = self._writing, set()
        for scope in writing:  # caught in the middle of its start write
            scope._lock = threading.RLock()
            handle = getattr(scope._exe, "_handle", None)
            if handle is not None:
                handle.lock = threading.RLock()

    def add(self, deadline: float, scope: ExecutionScope, delay: float) -> int:
        """Schedule the start write of *scope* at *deadline* (*delay* seconds
        from now); returns its number for remove()."""
        if self._pid != os.getpid():
            # Forked without Python's at-fork hooks (a C extension calling
            # fork()): the lock, the condition (its waiter list names the
            # parent's thread) and the workers' count are the parent's.
            self.after_fork_in_child()
        number = next(self._counter)
        with self._lock:
            if delay < self._shortest:
                self._shortest = delay
            self._added = True
            self._running[number] = scope
            if len(self._heap) > 2 * len(self._running) + 1024:
                # Entries of calls that ended wait for their deadline to be
                # dropped; with a long start_delay they would pile up.
                self._heap = [entry for entry in self._heap if entry[1] in self._running]
                heapq.heapify(self._heap)
            heapq.heappush(self._heap, (deadline, number))
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="lineage-start-writer", daemon=True)
                self._thread.start()
            elif deadline < self._wake_at:  # the thread would wake too late
                self._wake_at = deadline
                self._cond.notify()
        return number

    def remove(self, number: int) -> None:
        """The call ended: no start write is due (dict.pop is atomic)."""
        self._running.pop(number, None)

    def keep_a_worker(self) -> None:
        """Make sure a worker runs: the end of a call whose body never began
        is handed to the workers from a finalizer (see _never_begun), which
        may not take the lock to start one."""
        if self._pid != os.getpid():
            self.after_fork_in_child()
        with self._lock:
            if self._workers == 0:
                self._workers += 1
                threading.Thread(target=self._work, name="lineage-start-writer", daemon=True).start()

    def end_later(self, scope: ExecutionScope) -> None:
        """Write the end of *scope*, whose body never began, on a worker
        (SimpleQueue.put is safe anywhere, even in a finalizer that the
        garbage collector runs inside this scheduler's lock)."""
        self._due.put(scope)

    def _loop(self) -> None:
        while True:
            with self._cond:
                heap, running = self._heap, self._running
                # Calls that ended before their delay need nothing: drop
                # their entries now rather than waking at each deadline.
                while heap and heap[0][1] not in running:
                    heapq.heappop(heap)
                if not heap:
                    if self._added:  # calls came since the last look: more may come
                        self._added = False
                        # Not below IDLE_WAIT: calls with shorter delays wake it.
                        wait = min(max(self._shortest, self.IDLE_WAIT), self.MAX_WAIT)
                        self._shortest = math.inf  # one call with a short delay must not set it for good
                        self._wake_at = time.monotonic() + wait
                        self._cond.wait(wait)
                    else:  # none came: sleep until one does
                        self._wake_at = math.inf
                        self._cond.wait()
                    continue
                deadline, number = heap[0]
                now = time.monotonic()
                if deadline > now:
                    wait = min(deadline - now, self.MAX_WAIT)  # a "never" delay (1e10 s) overflowed
                    self._wake_at = now + wait
                    self._cond.wait(wait)
                    continue
                heapq.heappop(heap)
                scope = running.pop(number, None)
                if scope is not None:
                    self._due.put(scope)
                    # Not held while this thread sleeps: a scope keeps its
                    # function, so its module's globals; at exit they were
                    # then never freed (an unclosed file lost its data).
                    del scope
                    if self._due.qsize() > self._idle and self._workers < self.WORKERS:
                        self._workers += 1
                        threading.Thread(target=self._work, name="lineage-start-writer", daemon=True).start()

    def _work(self) -> None:
        """A worker: make the start writes that are due, one at a time."""
        while True:
            with self._lock:
                self._idle += 1
            scope = self._due.get()
            with self._lock:
                self._idle -= 1
                self._writing.add(scope)
            try:
                scope._write_start()  # guarded: fails open with a warning; ends one whose body never began
            except Exception:  # pragma: no cover - the thread must outlive any one call
                log.exception("lineage: writing an execution's start failed")
            finally:
                with self._lock:
                    self._writing.discard(scope)
                del scope  # not held while waiting for the next (see _loop)


_scheduler = _StartScheduler()
os.register_at_fork(after_in_child=lambda: _scheduler.after_fork_in_child())

# --------------------------------------------------------------------------- scope


class ExecutionScope:
    """One execution being recorded: what ``with execution(...) as ex`` gives.

    Also a decorator: ``@execution("train")`` tracks every call of a
    function, each in a fresh scope.
    """

    # A wraps decorator's call whose body never began, and now never will
    # (see _never_begun): set on the rare scope it is true of, not per call.
    _dropped = False
    # A with block's source file (see _block_file): set when one is entered, not per call.
    _block_file: Optional[str] = None
    # Ended by the exit handler while its thread still ran (see _end_open): set on the rare scope it is true of.
    _ended_at_exit = False
    # The execution a coroutine or generator was called in, ended before its
    # first step, and still its parent (see _entered_where_made): set on the rare scope it is true of.
    _ended_caller: Optional[ExecutionScope] = None
    # The Kubeflow SDK-style objects logged (see _kubeflow_record), each with
    # its record, to be given the record's id once written: set on the rare scope that has them.
    _kubeflow_objects: List[Tuple[Any, Artifact]] = []  # (never added to: see _kubeflow_record)
    # Such objects wait among the inputs or outputs for the execution to be made (see _kubeflow_pending).
    _kubeflow_waiting = False

    def __init__(self, options: _Options, *, function: Optional[Callable[..., Any]] = None) -> None:
        self._options = options
        self._function = function
        self._lock = threading.RLock()
        self._entered = False
        self._done = False
        self._token: Optional[contextvars.Token[Optional[ExecutionScope]]] = None
        self._exe: Any = None  # lineage.workspace.Execution
        self._parent: Optional[ExecutionScope] = None
        # (record, event path, content digest taken when it was logged)
        self._inputs: List[_Entry] = []
        self._outputs: List[_Entry] = []
        self._params: Dict[str, Any] = {}
        self._params_sent: Optional[Dict[str, Any]] = None  # as the start write stored them
        self._start_props: Dict[str, Any] = {}
        self._start_written = False
        self._scheduled: Optional[int] = None  # its number in the start scheduler
        self._postponed: Optional[float] = None  # its start delay, while its body has not begun (see _postpone)
        self._until_body = False  # a wraps decorator's call: even a start delay of 0 waits for the body (see _start)
        self._pid = os.getpid()  # the process that entered it (see _live)

    # ------------------------------------------------------------------ public

    @property
    def name(self) -> Optional[str]:
        """The execution's name."""
        return self._options.name

    @property
    def id(self) -> Optional[int]:
        """The MLMD execution id (writes the start now if it was deferred)."""
        if self._exe is None:
            return None
        if self._exe.id is None and not self._done:
            if self._pid == os.getpid():
                self._write_start()
            else:  # a forked child: the process that entered it writes it (see flush); read, if it has
                self._exe.id = self._stored_id()
        return self._exe.id

    def _stored_id(self) -> Optional[int]:
        """The id of this execution if the store holds it (looked up by its
        external id; None if not, or the store cannot say now)."""
        assert self._exe is not None
        external = self._exe._handle.proto.external_id
        writer = self._exe._writer
        # Read from user code (ex.id): one attempt, no retry budget; none at
        # all while writes wait in the spool or the store was just found down.
        if writer.spooling() or time.monotonic() < getattr(self, "_lookup_after", 0.0):
            return None
        backend = writer.backend
        try:
            with backend._lock:
                found = backend.mlmd.get_executions_by_external_ids([external])
        except Exception:  # down, or an MLMD too old: not known
            self._lookup_after = time.monotonic() + 5.0
            return None
        return found[0].id if found else None

    @property
    def external_id(self) -> Optional[str]:
        """The client-made external id of the execution."""
        return self._exe._handle.external_id if self._exe is not None else None

    @property
    def parent(self) -> Optional[ExecutionScope]:
        """The enclosing execution, if any."""
        return self._parent

    def log_input(self, artifact: Artifact, path: Optional[Union[str, int, Tuple[Any, ...]]] = None) -> Artifact:
        """Record *artifact* as an input (written with the next write).

        Returns:
            The same artifact.
        """
        return self._log("log_input", "_inputs", artifact, path)

    def log_output(self, artifact: Artifact, path: Optional[Union[str, int, Tuple[Any, ...]]] = None) -> Artifact:
        """Record *artifact* as an output (written when the execution ends).

        Returns:
            The same artifact.
        """
        return self._log("log_output", "_outputs", artifact, path)

    def log_param(self, name: str, value: Any) -> None:
        """Record a parameter of the execution (typed; secrets redacted)."""
        check_property_name("log_param(name)", name)
        self._check_open("log_param")  # a forked child's is told before the lock (see _foreign)
        with self._lock:
            self._check_open("log_param")
            self._params[name] = _mapping.param_value(name, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Record several parameters."""
        if not isinstance(params, Mapping):
            raise InvalidTypeError(f"log_params(params) must be a mapping, got {describe(params)}")
        for name, value in params.items():
            self.log_param(name, value)

    def flush(self) -> None:
        """Write what is pending now (the start, and inputs and params logged since)."""
        if self._foreign():
            return  # (entered in the process this one was forked from: that one writes it)
        with self._lock:
            if self._exe is None or self._done:
                return
            if not self._start_written:
                self._write_start()
                return
            params = self._params != self._params_sent
            if not (self._inputs or params):
                return

            def write() -> None:
                props = self._param_props() if params else None
                self._send(self._as_logged(self._take_inputs(), INPUT), properties=props)
                if params:
                    self._params_sent = dict(self._params)

            self._guarded("record inputs and params", write)

    def __repr__(self) -> str:
        state = "done" if self._done else "running" if self._entered else "new"
        return f"ExecutionScope(name={self.name!r}, id={self._exe.id if self._exe else None}, {state})"

    # ------------------------------------------------------------------ context manager

    def __enter__(self) -> ExecutionScope:
        with self._lock:
            # Claimed at once: one block entered by several threads at once
            # let more than one in while the first logged its records (each
            # started an execution of its own on it, one left RUNNING for good).
            if self._entered:
                raise LineageError("an execution scope can be entered once; call execution(...) again for a new one")
            self._entered, pid, self._pid = True, self._pid, os.getpid()
        try:
            given = self._records_of_block() if self._function is None else ([], [])
            # Logged before the start: the first write carries the inputs.
            logged = [(entry, "_inputs") for entry in given[0]] + [(entry, "_outputs") for entry in given[1]]
            for (record, path), pending in logged:
                self._log("execution", pending, record, path)
        except BaseException:  # a mistake in its records, said here: not entered
            self._entered, self._pid = False, pid
            raise
        self._parent = self._ended_caller if self._ended_caller is not None else _live(_current.get())
        if self._enabled():
            if self._function is None:  # a with block: the file its code is in (see _block_file)
                self._block_file = _block_file(sys._getframe(1))
            try:
                self._guarded("start the execution", self._start)
            except KeyboardInterrupt as exc:
                # Ctrl-C into the start write (start_delay=0): spooled by the
                # writer, and the body never runs nor __exit__ is called, so
                # it is ended CANCELED here (queued behind it), not RUNNING for good.
                self._finish(exc)
                raise
            if self._exe is not None:
                _open[self] = None  # ended at exit if still open then (see _end_open)
        self._token = _current.set(self)
        return self

    def __exit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        self._detach()
        # A block in a coroutine closed before it finished (a destroyed pending
        # task's) never finished, as a tracked coroutine's body did not (see
        # _final_state): its traceback's first frame is the one the block is in.
        closed = isinstance(exc, GeneratorExit) and tb is not None and bool(tb.tb_frame.f_code.co_flags & inspect.CO_COROUTINE)
        self._finish(exc, coroutine=closed)
        return False

    async def __aenter__(self) -> ExecutionScope:
        return self.__enter__()

    async def __aexit__(self, exc_type: Any, exc: Optional[BaseException], tb: Any) -> bool:
        return self.__exit__(exc_type, exc, tb)

    # ------------------------------------------------------------------ decorator

    def __call__(self, func: F) -> F:
        """Use the scope's options to track every call of *func*."""
        return _decorate(func, self._options)

    # ------------------------------------------------------------------ internals

    def _records_of_block(self) -> Tuple[List[Tuple[Artifact, Tuple[Any, ...]]], List[Tuple[Artifact, Tuple[Any, ...]]]]:
        """The records ``with execution(inputs=..., outputs=...)`` names.

        In a with block there are no parameters: ``inputs``/``outputs`` are
        records (logged as if by log_input/log_output when the block
        starts), and the decorator's forms (parameter names, record
        classes, ``exclude``) are refused rather than ignored.
        """
        options, found = self._options, []
        for field in ("inputs", "outputs"):
            value = getattr(options, field)
            records = None if value is None else _records_given(f"execution({field})", value)
            if records is None and isinstance(value, (list, tuple, Mapping)) and not value:
                records = []  # a list of records that came out empty: none
            if value is not None and records is None:
                raise InvalidTypeError(
                    f"execution({field}) in a with block takes records (a record, a list of records or a dict of "
                    f"them by name), got {describe(value)}; parameter names and record classes are for a decorated function"
                )
            found.append(records or [])
        if options.exclude:
            raise InvalidTypeError(
                "execution(exclude) names parameters of a decorated function; a with block has none, "
                f"got {list(options.exclude)!r}"
            )
        return found[0], found[1]

    def _enabled(self) -> bool:
        if self._options.enabled is not None:
            return self._options.enabled
        return _config.settings().enabled

    def _log(self, where: str, pending: str, artifact: Any, path: Any) -> Artifact:
        given = artifact
        if not isinstance(artifact, Artifact):
            if not _mapping._is_kubeflow_style(artifact):
                raise InvalidTypeError(
                    f"{where}(artifact) must be a lineage record (DataSet, Model, Metrics or a custom type), "
                    f"got {describe(artifact)}"
                )
            steps = _path(path)
            self._check_open(where)
            if self._exe is None:
                # Not started yet (execution(inputs=...)): made a record at the
                # start (see _kubeflow_pending). Not for a scope started but
                # switched off since (init(enabled=False) in the block): no start
                # is to come, and it is written at the end as a record is (held
                # as it was, the writer refused the end whole). Refused now if it cannot be one,
                # when its type has a class (else one would be made for it here,
                # not from the store's type, as at the start).
                from lineage.records import record_class_for
                from lineage.store._codec import record_from_kubeflow_style

                if record_class_for(type(artifact).ARTIFACT_TYPE_NAME) is not None:
                    record_from_kubeflow_style(artifact)
                with self._lock:
                    self._check_open(where)
                    getattr(self, pending).append((artifact, steps, None, None, where))
                    self._kubeflow_waiting = True
                return given
            artifact = self._kubeflow_record(artifact)
        steps = _path(path)
        self._check_open(where)
        enabled = self._enabled()
        if enabled and written_when_logged(artifact, self._exe._writer._token if self._exe is not None else None):
            check_current(artifact)  # a dict changed in place since it was made: named here, not at the write
        # An input's bytes as the code read them: the call may change
        # the file before the execution is written. An output's as they
        # are now, when this execution wrote them (a checkpoint rewritten
        # every epoch, each logged as a version of its own); not the
        # records execution(outputs=...) names, logged before it began.
        if not enabled:
            taken = None
        elif pending == "_inputs":
            taken = _digest.of_record(artifact)
        else:
            taken = self._output_digest(artifact) if where != "execution" else None
        entry = (artifact, steps, taken, _held(artifact), where)
        with self._lock:  # the list is swapped out under this lock when written
            self._check_open(where)
            getattr(self, pending).append(entry)
        return given

    def _kubeflow_record(self, obj: Any) -> Artifact:
        """The record of a Kubeflow SDK-style object (a metadata.DataSet, a
        class written the SDK's way), made as lineage's Execution.log_input
        makes it (so one artifact, deduplicated alike); the object gets the
        record's id once it is written, as the SDK's log_input gave it."""
        from lineage.workspace import kubeflow_style_record

        assert self._exe is not None
        record = kubeflow_style_record(obj, self._exe._writer, self._exe._handle)
        # Added to under no lock of the scope (see _copied_outputs): setdefault and append are atomic.
        self.__dict__.setdefault("_kubeflow_objects", []).append((obj, record))
        return record

    def _kubeflow_records(self, found: List[Tuple[Any, Tuple[Any, ...]]]) -> List[Tuple[Artifact, Tuple[Any, ...]]]:
        """*found* (what a call returned) with its Kubeflow SDK-style objects
        as records; one that cannot be one is left out, said (its call ran)."""
        records = []
        for item, path in found:
            if not isinstance(item, Artifact):
                try:
                    item = self._kubeflow_record(item)
                except Exception as exc:
                    _fail_open(f"log the return value at {'.'.join(map(str, path))}", exc)
                    continue
            records.append((item, path))
        return records

    def _kubeflow_pending(self) -> None:
        """Make records of the Kubeflow SDK-style objects logged before the
        execution was made (a tracked call's arguments, execution(inputs=...)),
        now that its store is known; one that cannot be one is left out, said."""
        for pending in (self._inputs, self._outputs):
            for index, (obj, path, _, _, what) in enumerate(pending):
                if isinstance(obj, Artifact):
                    continue
                try:
                    record = self._kubeflow_record(obj)
                    taken = _digest.of_record(record) if pending is self._inputs else None
                    pending[index] = (record, path, taken, _held(record), what)
                except Exception as exc:
                    pending[index] = None  # type: ignore[call-overload]
                    _fail_open(f"log the {what} at {'.'.join(map(str, path)) or what}", exc)
            pending[:] = [entry for entry in pending if entry is not None]
        self._kubeflow_waiting = False

    def _kubeflow_ids(self) -> None:
        """Give the Kubeflow SDK-style objects the ids their records were written with."""
        for obj, record in self._kubeflow_objects:
            if record.id is not None:
                try:
                    obj.id = record.id
                except Exception as exc:  # a frozen dataclass, __slots__ without id
                    # Said, never raised: the write has landed (raised from it,
                    # the start was said not written and written again, and in
                    # strict mode the call did not run). Its own class's doing.
                    if _config.first_warning(("kubeflow object id", type(obj))):
                        warn_never_raised(
                            f"lineage wrote {type(obj).__qualname__} (artifact id {record.id}) but could not set its id "
                            f"({type(exc).__name__}: {exc}); logged again, it is matched as a new object is"
                        )

    def _output_digest(self, record: Artifact) -> Optional[_digest.Digest]:
        """The digest of an output's content when it is logged; None: taken
        when it is written (see _digest.of_output)."""
        if self._exe is None:
            return None  # not started (its start failed): nothing is written
        return _digest.of_output(record, functools.partial(_ns_of, self._exe.create_time))

    def _foreign(self) -> bool:
        """Entered in the process this one was forked from, which writes it.
        Asked before taking its lock: one of that process's threads may have
        held the lock at fork() (logging to the block, mid-write), and then
        it stays held here for good (the child leaving the block hung on it)."""
        return self._entered and self._pid != os.getpid()

    def _check_open(self, where: str) -> None:
        """Refuse what comes after the end: it would never be written."""
        if self._done:
            if self._ended_at_exit:
                # Ended by the exit handler while its thread (a daemon) runs on
                # until the interpreter stops it: what it logs now is dropped,
                # not raised into its code (the process is ending, not the call).
                return
            raise LineageError(
                f"{where}: execution {self.name!r} has ended; log inside the with block (or the tracked call)"
            )
        if self._foreign():
            # Its writes are the process's that entered it (see flush, _finish):
            # what a forked child logs to it would be dropped without a word.
            raise LineageError(
                f"{where}: execution {self.name!r} belongs to process {self._pid} (this one was forked from it) "
                "and is written only there; track the child's work in an execution of its own"
            )

    def _guarded(self, what: str, fn: Callable[[], Any]) -> Any:
        try:
            return fn()
        except Exception as exc:
            _fail_open(what, exc)
            return None

    def _store(self) -> Any:
        store = self._options.store
        if isinstance(store, _workspace().Store):
            return store
        if store is None and self._parent is not None and self._parent._exe is not None:
            return self._parent._exe.workspace._lineage_store
        try:
            return _config.cached_store(_config.store_url(store))
        except InvalidStoreURLError as exc:
            if store is None and _config.settings().store is None:
                # Told at every call's warning: without the variable's name, one
                # looked for the mistake in the code (init() and track() check theirs).
                raise InvalidStoreURLError(f"the LINEAGE_STORE environment variable: {exc}") from None
            raise

    def _start(self) -> None:
        parent = self._parent if self._parent is not None and self._parent._exe is not None else None
        store = self._store()
        if self._options.workspace is None and parent is not None and self._options.store is None:
            workspace_name = parent._exe.workspace.name
        else:
            workspace_name = _config.workspace_name(self._options.workspace)
        if self._options.run is None and parent is not None and parent._exe.run is not None and self._options.store is None:
            run_name = parent._exe.run.name
        else:
            run_name = _config.run_name(self._options.run)
        workspace, run = _config.contexts_for(store, workspace_name, run_name)
        name = self._options.name or "execution"
        # The start time is the execution's create_time (the Kubeflow layout);
        # provenance is fixed when the execution is made.
        self._exe = _workspace().Execution(
            name=name,
            workspace=workspace,
            run=run,
            description=self._options.description,
            _defer=True,
            _fixed=_provenance.call_provenance(self._function, self._block_file),
        )
        if self._kubeflow_waiting:
            self._kubeflow_pending()
        # Not kept: a scope waiting in the start scheduler kept its function,
        # so its module's globals, alive at exit (never freed: an unclosed
        # file lost its data, a generator was never closed).
        self._function = None
        props: Dict[str, Any] = {}
        if parent is not None:
            props["lineage.parent_external_id"] = parent.external_id
            if parent._exe.id is not None:
                props["lineage.parent_execution_id"] = parent._exe.id
        self._start_props = props
        delay = self._options.start_delay
        if delay is None:
            delay = _config.settings().start_delay
        if delay is None:
            delay = DEFAULT_START_DELAY
        if delay <= 0 and self._until_body:
            # What the call returns says whether its body runs later (see
            # _postpone): then no RUNNING before that body begins, and at
            # once when it does. (A decorator that runs the body within the
            # call, asyncio.run say, is written once, at its end: lineage
            # cannot see that body begin, the decorator calls the function
            # itself and nothing short of tracing tells; and a start written
            # before the call returns would, for a body that never runs,
            # leave an execution to end CANCELED (see _end_dropped) where
            # an async function of its own writes nothing.)
            self._postponed = self._delay = 0.0
        elif delay <= 0:
            self._write_start()
        else:
            self._scheduled = _scheduler.add(time.monotonic() + delay, self, delay)
            self._delay = delay

    def _postpone(self) -> None:
        """Its body runs later (a coroutine or generator a plain function
        made): no RUNNING start write until it begins (see _body_begins),
        as for an async or generator function of its own (one never begun,
        or a task cancelled before it began, wrote RUNNING for good)."""
        with self._lock:
            if self._scheduled is not None and not self._done:
                _scheduler.remove(self._scheduled)
                self._scheduled, self._postponed = None, self._delay
            if self._start_written:
                # RUNNING is stored already (a decorator slower than the
                # start delay, or that flushed): if the body never begins,
                # a worker writes the end (see _never_begun).
                _scheduler.keep_a_worker()

    def _body_begins(self) -> None:
        if self._pid != os.getpid():
            # Made in the process this one was forked from (see below): a
            # thread of that one may have held its lock, or its write's, at
            # fork(), held here for good (the thread is not forked). Made
            # anew before they are taken: no other thread here takes them
            # (one entered there is written there only: see _foreign).
            self._lock = threading.RLock()
            handle = getattr(self._exe, "_handle", None)
            if handle is not None:
                handle.lock = threading.RLock()
        with self._lock:
            if self._pid != os.getpid() and not self._done:
                # Made in the process this one was forked from, and run here:
                # this process runs the call, so it records it (that one's
                # copy never begins and writes nothing: see _never_begun).
                self._pid = os.getpid()
                if not self._start_written and self._exe is not None:
                    # Nothing written under its id yet: an id of its own, or a
                    # parent that runs its copy too is merged with it.
                    self._exe._handle.proto.external_id = new_external_id("execution")
            delay, self._postponed = self._postponed, None
            if delay is not None and not self._done and not self._start_written:
                if delay <= 0:
                    self._write_start()
                else:
                    self._scheduled = _scheduler.add(time.monotonic() + delay, self, delay)

    def _param_props(self) -> Dict[str, Any]:
        """The parameters as typed properties, and ``lineage.params`` (all of
        them as JSON) when a property cannot give one back exactly."""
        props: Dict[str, Any] = {}
        exact = True
        folded: Optional[Set[str]] = None
        for name, value in self._params.items():
            if name not in _good_param_names:
                try:
                    check_property_name("parameter", name)
                except LineageError:
                    exact = False
                    continue
                if len(_good_param_names) >= 4096:
                    _good_param_names.clear()
                _good_param_names.add(name)
            if folded is not None or not (name.isascii() and name.islower() and name[-1] != " "):
                # "lr" and "LR" (or "b" and "b ", "yaş" and "yağ": see
                # property_name_key): one property on MySQL, so the later
                # one is kept in lineage.params only.
                if folded is None:
                    folded = {property_name_key(n) for n in props}
                key = property_name_key(name)
                if key in folded:
                    exact = False
                    continue
                folded.add(key)
            props[name] = value
            if exact and not exact_as_property(value):
                exact = False
        # None removes one an earlier write stored, now that all are exact.
        props["lineage.params"] = None if exact else _PARAMS_JSON.encode(self._params)
        return props

    def _send(self, logged: List[Logged], **write: Any) -> None:
        """One write of this execution, of *logged* (see _as_logged); in
        strict mode an unreachable store raises instead of spooling."""
        assert self._exe is not None
        self._exe._write(spool=not _config.strict(), logged=logged, **write)
        if self._kubeflow_objects:
            self._kubeflow_ids()

    def _take_inputs(self) -> List[_Entry]:
        inputs, self._inputs = self._inputs, []
        return inputs

    def _write_start(self) -> None:
        """Write 1: the execution RUNNING, its inputs, params and contexts."""
        with self._lock:
            if self._start_written or self._done or self._exe is None:
                if self._dropped:  # handed to a worker by _never_begun
                    self._end_dropped()
                return
            props = dict(self._start_props)
            props.update(self._param_props())
            inputs = list(self._inputs)

            def write() -> None:
                self._send(self._as_logged(inputs, INPUT), properties=props, state="RUNNING")
                self._start_written = True
                self._params_sent = dict(self._params)
                del self._inputs[: len(inputs)]

            self._guarded("write the execution's start", write)
            if self._dropped:
                # Its body was found never to begin while this was written
                # (_never_begun takes no lock, and saw no start written).
                self._end_dropped()

    def _end_dropped(self) -> None:
        """A start written for a call whose body then never ran (a coroutine
        never awaited, a generator never iterated: see _never_begun) is
        ended CANCELED, not left RUNNING for good. Written once, by the
        process that entered it, unless the store holds it ended already (a
        forked child ran the body and ended it)."""
        if self._pid != os.getpid():
            # Dropped in a forked child (at its exit, say): the process that
            # entered it ends it, and its lock may be held here for good (see _foreign).
            return
        with self._lock:
            if not (self._dropped and self._start_written) or self._pid != os.getpid() or self._exe is None:
                return
            self._dropped = False
            if self._exe.id is not None and self._exe._writer.stored_as_ended(self._exe.id):
                return
            never_ran = "its body never ran: the coroutine or generator the call returned was dropped before it began"
            self._write_end("CANCELED", {"lineage.error_message": never_ran})

    def _finish(self, exc: Optional[BaseException], coroutine: bool = False) -> None:
        """Write 2: outputs and the final state (one write if 1 never happened).
        *coroutine*: the call is a coroutine's (see _final_state)."""
        if self._foreign():
            self._done = True  # entered in the parent process: the parent ends it
            _open.pop(self, None)
            return
        with self._lock:
            if not self._done:
                self._end(*_final_state(exc, coroutine))

    def _end(self, state: str, props: Dict[str, Any]) -> None:
        """End it: write 2 with *state* and *props* (the caller holds the
        lock and has seen it not done)."""
        self._done = True
        try:
            if self._scheduled is not None:
                _scheduler.remove(self._scheduled)
            if self._exe is not None:
                self._write_end(state, props)
        finally:
            # Once its end is written: the exit handler waits for that
            # (its thread, a daemon, is stopped mid-write after it).
            _open.pop(self, None)

    def _write_end(self, state: str, props: Dict[str, Any]) -> None:
        """Write 2: *state*, *props*, the outputs and what is pending (the
        caller holds the lock)."""
        props["lineage.end_time"] = _now()
        if not self._start_written:
            props = {**self._start_props, **self._param_props(), **props}
        elif self._params != self._params_sent:  # log_param() since the start write
            props.update(self._param_props())
        inputs, outputs = self._take_inputs(), list(self._outputs)
        self._guarded(
            "write the execution's end",
            lambda: self._send(
                self._as_logged(inputs, INPUT) + self._as_logged(_as_ended(outputs), OUTPUT), state=state, properties=props
            ),
        )

    def _map_arguments(self, binder: _mapping.Binder, values: Dict[str, Any]) -> None:
        mapped = _mapping.map_arguments(binder, values, inputs=self._options.inputs, exclude=self._options.exclude)
        if mapped.inputs and _config.strict():  # raised at the call, before the function runs (not after it, at the write)
            for record, _ in mapped.inputs:
                if isinstance(record, Artifact) and written_when_logged(record):
                    check_current(record)
        # Digests now, before the function runs: it may rewrite its inputs.
        for record, path in mapped.inputs:
            if isinstance(record, Artifact):
                self._inputs.append((record, path, _digest.of_record(record), _held(record), "argument"))
            else:  # a Kubeflow SDK-style object: made a record at the start (see _kubeflow_pending)
                self._inputs.append((record, path, None, None, "argument"))
                self._kubeflow_waiting = True
        self._params.update(mapped.params)
        for name, exc in mapped.failed:  # kept as a parameter (a repr); the other arguments are mapped
            _fail_open(f"map the argument {name!r}", exc)

    def _detach(self) -> None:
        """No longer the current execution of this context."""
        if self._token is not None:
            try:
                _current.reset(self._token)
            except ValueError:  # exited in another context (generator, task)
                pass
            self._token = None

    def _outputs_from(self, value: Any, annotation: Any, root: Tuple[Any, ...] = ("return",)) -> None:
        found = _mapping.outputs_of(value, annotation, self._options.outputs, root=root)
        # A value returned is written at once (the end follows); what a
        # generator yields waits while its code goes on: held as it is now.
        yielded = root[0] == "yield"
        if self._foreign():
            # Entered in the process this one was forked from, which writes it:
            # its lock may be held here for good (see _foreign).
            return
        if found and not all(isinstance(record, Artifact) for record, _ in found):
            found = self._kubeflow_records(found)
        entries: List[_Entry]
        if yielded:  # its bytes as they are now, as log_output's (see _log)
            entries = [(record, path, self._output_digest(record), _held(record), "return value") for record, path in found]
        else:
            entries = [(record, path, None, None, "return value") for record, path in found]
        with self._lock:
            self._outputs.extend(entries)

    def _copied_outputs(self, value: Any, annotation: Any) -> List[Tuple[Artifact, Tuple[Any, ...]]]:
        """The records *value* returns, copied as they are now: what a
        concurrent future holds is the caller's, in another thread, while
        the end is written (see _TakeResult), and a copy no one else holds
        is written. Takes no lock of this scope (see _TakeResult)."""
        found = _mapping.outputs_of(value, annotation, self._options.outputs)
        assert self._exe is not None
        writer = self._exe._writer
        own: Set[int] = set()
        if found and not all(isinstance(record, Artifact) for record, _ in found):
            found = self._kubeflow_records(found)
            own = {id(record) for _, record in self._kubeflow_objects}  # no one else holds them: no copy
        return [(record if id(record) in own else _as_it_was(record, _held(record), writer), path) for record, path in found]

    def _add_outputs(self, found: List[Tuple[Artifact, Tuple[Any, ...]]]) -> None:
        """Copies a future's result was taken as (see _copied_outputs), now
        outputs (written at once: the end follows)."""
        if self._foreign():
            # Completed in a child of the process that entered it, which writes
            # it: its lock may be held here for good (see _foreign).
            return
        with self._lock:
            self._outputs.extend((record, path, None, None, "return value") for record, path in found)

    def _as_logged(self, entries: List[_Entry], event_type: int) -> List[Logged]:
        """The pending records of a write, as they were when logged, as
        the writer takes them: (record, *event_type*, path, digest or None).

        Writes are deferred (to the start delay, or the end): a record whose
        uri, name or version was set anew since it was logged (one DataSet
        reused in a loop over parts, an input the function changed) is
        written as it was then, a copy, not as what it holds now. One that
        cannot be written (a dict of it changed in place to hold what no
        store can) is left out with a warning naming it, and the others are
        written (the write failed whole).
        """
        assert self._exe is not None
        writer = self._exe._writer
        token = writer._token
        kept: List[Logged] = []
        for record, path, taken, held, what in entries:
            sent = record
            try:
                if held is not None and (record.uri, record.name, getattr(record, "version", None)) != held[0]:
                    sent = _as_it_was(record, held, writer)
                if written_when_logged(sent, token):  # one with an id is referenced, not written
                    check_current(sent)
            except Exception as exc:  # this record only: the others are written
                _fail_open(f"log the {what} record at {'.'.join(map(str, path)) or what}", exc)
                continue
            # (a path is a tuple of str and int: see _path, and _mapping's)
            kept.append((sent, event_type, path if type(path) is tuple else tuple(path or ()), taken))
        return kept


# A pending input or output of a scope: the record, its event path, its
# content digest when logged (None: taken when written; see _log), what it was then
# (see _held; None for a value returned, written at once), and what logged it (named in a warning).
_Entry = Tuple[Artifact, Tuple[Any, ...], Any, Optional[Tuple[Any, ...]], str]


_LINEAGE_FOLDER = os.path.dirname(os.path.abspath(__file__)) + os.sep
_CONTEXTLIB_FILE = contextlib.__file__


def _block_file(frame: Any) -> Optional[str]:
    """The file holding a ``with execution(...)`` statement, from the frame
    that entered the scope: its provenance is that file's git state, as a
    tracked function's is its own file's. The working folder's had been
    taken: another repository's commit for ``python ~/project/train.py``
    run elsewhere, and a script git does not track called clean. None (the
    working folder, as before) when lineage entered it (a ``%%track``
    cell) or the code is not in a file."""
    while frame is not None and frame.f_code.co_filename == _CONTEXTLIB_FILE:  # ExitStack.enter_context
        frame = frame.f_back
    if frame is not None and frame.f_code is ExecutionScope.__aenter__.__code__:
        frame = frame.f_back
    filename = frame.f_code.co_filename if frame is not None else ""
    if not filename or filename.startswith(_LINEAGE_FOLDER) or not os.path.isabs(filename):
        return None
    return filename


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _ns_of(stamp: str) -> int:
    """A create_time (see records._now) in nanoseconds since the epoch, as
    file modification times are."""
    since = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")) - _EPOCH
    return since // datetime.timedelta(microseconds=1) * 1000


def _as_ended(entries: List[_Entry]) -> List[_Entry]:
    """The outputs of an ending execution, the last logging of each path
    digested when logged having the bytes it ends with if it was written
    since (the end's digest, as every output had before they were digested
    when logged).

    Modified since the execution began, what is on disk may be written
    still: a folder made, logged, then filled, or a file opened (made
    empty), logged, then written, was digested empty. A path logged again
    later keeps the digest of each earlier logging (a checkpoint rewritten
    every epoch, each logged as a version). Once per path at the end, a
    file not changed since is not read again (see _digest._file_sha256);
    one gone or unreadable by then keeps the digest it was logged with.
    """
    if all(entry[2] is None for entry in entries):
        return entries  # none digested when logged (a short call's return value): nothing to look at again
    last: Dict[str, int] = {}
    for index, (record, _, _, held, _) in enumerate(entries):
        last[held[0][0] if held is not None else record.uri] = index
    ended = list(entries)
    for index in last.values():
        record, path, taken, held, what = entries[index]
        if taken is None or taken.digest is None:
            continue  # digested when written, or no local file
        local = _digest.local_path(held[0][0] if held is not None else record.uri)
        now = _digest.of_path(local) if local is not None else None
        if now is not None and now.digest is not None and now.digest != taken.digest:
            ended[index] = (record, path, now, held, what)
    return ended


def _held(record: Artifact) -> Tuple[Any, ...]:
    """What *record* is when it is logged: its uri, name and version, and
    the id it is referenced by then, with the store that id is of (see
    referenced_id), and the values of all its fields (a copy sent for it
    holds them all, not only the three that name it)."""
    cls = type(record)
    values = _getters.get(cls)
    if values is None:
        values = _getters[cls] = _field_getter(field_names(cls))
    reference = None if record.id is None else referenced_id(record)
    return (record.uri, record.name, getattr(record, "version", None)), reference, values(record)


# record class -> a function giving the values of its fields, in field_names order
_getters: Dict[type, Callable[[Any], Tuple[Any, ...]]] = {}


def _field_getter(names: Tuple[str, ...]) -> Callable[[Any], Tuple[Any, ...]]:
    getter = operator.attrgetter(*names)
    if len(names) > 1:
        return getter
    return lambda record: (getter(record),)  # attrgetter of one name gives the value itself


def _as_it_was(record: Artifact, held: Tuple[Any, ...], writer: Any) -> Artifact:
    """A copy of *record* with the fields it had when logged, and the id it
    was referenced by then if that id is of this store (or the id this
    store gave it since, for what it was then)."""
    sent = copy.copy(record)
    identity, reference, values = held
    for name, value in zip(field_names(type(record)), values):
        object.__setattr__(sent, name, value)
    token = writer._token
    same_store = reference is not None and (reference[1] is None or reference[1] == token)
    object.__setattr__(sent, "id", reference[0] if same_store else id_given_for(record, identity, token))
    # Every copy of what it was (logged as input and output, in nested
    # scopes, or the record itself written then) is one artifact: its key.
    writer.key_as_logged(sent, record, identity)
    return sent


def _records_given(where: str, value: Any) -> Optional[List[Tuple[Artifact, Tuple[Any, ...]]]]:
    """*value* as records with their event paths, or None if it holds none.

    A record, a list or tuple of records, or a dict of them whose keys are
    the event path steps (``inputs={"train": ds}``). One record among other
    things is a mistake, said naming where it is.
    """
    if _is_record(value):
        return [(value, ())]
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, (list, tuple)):
        items = list(enumerate(value))
    else:
        return None
    if not any(_is_record(item) for _, item in items):
        return None
    found = []
    for key, item in items:
        if not _is_record(item):
            raise InvalidTypeError(f"{where}[{key!r}] must be a record like the others, got {describe(item)}")
        if isinstance(value, Mapping):
            if isinstance(key, bool) or not isinstance(key, (str, int)):
                raise InvalidTypeError(
                    f"{where} keys are the records' event path steps, a str or an int, got {describe(key)}"
                )
            if isinstance(key, str):
                check_text(f"{where} key", key)
            found.append((item, _path(key)))
        else:
            found.append((item, ()))
    return found


def _is_record(value: Any) -> bool:
    """A lineage record, or an object of the Kubeflow SDK's classes or written their way (see _log)."""
    return isinstance(value, Artifact) or _mapping._is_kubeflow_style(value)


def _path(path: Any) -> Tuple[Any, ...]:
    if path is None:
        return ()
    if isinstance(path, (str, int)) and not isinstance(path, bool):
        steps: Tuple[Any, ...] = (path,)
    elif isinstance(path, tuple) and all(isinstance(p, (str, int)) for p in path):
        steps = path
    else:
        raise InvalidTypeError(f"path must be a str, an int or a tuple of them, got {describe(path)}")
    for step in steps:
        if type(step) is int and not PATH_INDEX_MIN <= step <= PATH_INDEX_MAX:
            raise InvalidValueError(
                "path index must fit in 32 bits (MLMD's event path on PostgreSQL and MySQL); "
                f"write a larger one as a str, got {step!r}"
            )
    return steps


def _error_message(exc: BaseException) -> str:
    """``str(exc)``; a broken ``__str__`` must not replace the user's exception."""
    try:
        return str(exc)[:_ERROR_LIMIT]
    except Exception:
        return f"<{type(exc).__name__}: str() failed>"


def _final_state(exc: Optional[BaseException], coroutine: bool = False) -> Tuple[str, Dict[str, Any]]:
    # A generator closed early ends as its consumer wished; a coroutine
    # closed before it finished (a pending task destroyed) never did.
    if exc is None or (isinstance(exc, GeneratorExit) and not coroutine):
        return "COMPLETE", {}
    if isinstance(exc, SystemExit):
        code = exc.code  # sys.exit(0), sys.exit(False), sys.exit(ExitCode.OK), sys.exit(): a success
        if code is None or (isinstance(code, int) and int.__index__(code) == 0):  # no user __eq__ called
            return "COMPLETE", {}
    props = {
        "lineage.error_type": f"{type(exc).__module__}.{type(exc).__qualname__}".replace("builtins.", ""),
        "lineage.error_message": _error_message(exc),
    }
    if isinstance(exc, (KeyboardInterrupt, asyncio.CancelledError, GeneratorExit)):
        return "CANCELED", props
    return "FAILED", props


# --------------------------------------------------------------------------- decorating


def _unwrap(func: Any) -> Callable[..., Any]:
    return func.__func__ if isinstance(func, (staticmethod, classmethod)) else func


def _kind_of(func: Any) -> Any:
    """What says whether calling *func* runs it now, or makes a coroutine or
    generator: the function, or for a callable instance its class's
    __call__ (inspect reads only functions: an instance with an async
    __call__ was tracked as a plain function, ended COMPLETE at the call,
    before its body ran or failed)."""
    if inspect.isroutine(func) or isinstance(func, functools.partial) or hasattr(func, "__wrapped__"):
        return func
    return type(func).__call__ if callable(func) else func


class _Tracked:
    """Per-function state of a decorated function (built once)."""

    def __init__(self, func: Callable[..., Any], options: _Options) -> None:
        inner = _unwrap(func)
        self.func = inner
        # The function a functools.partial applies: its name, docstring and
        # source (the partial's were "execution", partial's own docstring
        # and module functools).
        source = inner
        # What the partials bind: their positional arguments are in no
        # signature of theirs, so the call is bound on the function itself.
        bound_args: Tuple[Any, ...] = ()
        bound_kwargs: Dict[str, Any] = {}
        while isinstance(source, functools.partial):
            bound_args, bound_kwargs = source.args + bound_args, {**source.keywords, **bound_kwargs}
            source = source.func
        self.source = source
        self.bound = (bound_args, bound_kwargs) if bound_args else None
        # A callable instance (a class with __call__) has no __name__: its class's.
        name = options.name or getattr(source, "__name__", None) or type(source).__name__
        description = options.description
        if description is None:
            doc = inspect.getdoc(source)
            description = doc.strip().splitlines()[0][:1024] if doc else None
            if description is not None:
                try:
                    check_text("docstring", description)
                except LineageError:  # a lone surrogate: the docstring is not lineage's input
                    description = None
        self.options = attrs.evolve(options, name=name, description=description)
        try:
            self.binder = _mapping.Binder(inner if self.bound is None else source)
        except ValueError as exc:  # track(min): a builtin without a signature
            raise InvalidTypeError(
                f"track() needs a function whose parameters Python can read; {describe(inner)} has none ({exc})"
            ) from None
        kind = _kind_of(inner)
        self.is_generator = inspect.isgeneratorfunction(kind) or inspect.isasyncgenfunction(kind)
        # What a generator yields, as `-> Iterator[Model]` says (paths and URIs it yields are Models)
        self.yield_annotation = _yielded(self.binder.return_annotation) if self.is_generator else inspect.Signature.empty
        _mapping.check_names("track(exclude)", self.options.exclude, self.binder)
        for field in ("inputs", "outputs"):
            given = getattr(self.options, field)
            if given is not None and _records_given(f"track({field})", given) is not None:
                names = "its parameters" if field == "inputs" else "the record classes it returns"
                raise InvalidTypeError(
                    f"track({field}) of a decorated function names {names}, "
                    f"got records {describe(given)}; log records with lineage.current_execution().log_input/log_output, "
                    f"or pass them to a with block: with execution({field}=...)"
                )
        if self.options.inputs is not None:
            inputs = self.options.inputs
            if isinstance(inputs, (str, bytes)) or not isinstance(inputs, (Mapping, Iterable)):
                raise InvalidTypeError(
                    f"track(inputs) must be a list of parameter names or a dict of them, got {describe(inputs)}"
                )
            _mapping.check_names("track(inputs)", list(inputs), self.binder)

    def scope(self, instance: Any, args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> ExecutionScope:
        scope = ExecutionScope(self.options, function=self.source)
        if scope._enabled():
            if self.bound is not None:
                args, kwargs = self.bound[0] + tuple(args), {**self.bound[1], **kwargs}
            try:
                values = self.binder.bind(args, kwargs, bound_method=instance is not None)
            except TypeError:
                return scope  # the call itself is wrong: the function will say so
            except Exception as exc:
                _fail_open("map the call's arguments", exc)
                return scope
            try:
                scope._map_arguments(self.binder, values)
            except Exception as exc:  # a converter that failed or returned no record, ...: said, not swallowed
                _fail_open("map the call's arguments", exc)
        return scope

    def outputs(self, scope: ExecutionScope, value: Any, root: Tuple[Any, ...] = ("return",)) -> None:
        if scope._enabled() and scope._exe is not None:
            if not self.is_generator:
                annotation = self.binder.return_annotation if root == ("return",) else inspect.Signature.empty
            else:
                annotation = self.yield_annotation if root[0] == "yield" else inspect.Signature.empty
            scope._guarded("map the return value", lambda: scope._outputs_from(value, annotation, root))

    def copied_outputs(self, scope: ExecutionScope, value: Any) -> Optional[List[Tuple[Artifact, Tuple[Any, ...]]]]:
        """What outputs() would add for a returned *value*, as copies (see
        ExecutionScope._copied_outputs); None if there are none to add."""
        if not (scope._enabled() and scope._exe is not None):
            return None
        annotation = self.binder.return_annotation if not self.is_generator else inspect.Signature.empty
        return scope._guarded("map the return value", lambda: scope._copied_outputs(value, annotation))


_ITERATORS = (
    collections.abc.Iterator, collections.abc.Iterable, collections.abc.Generator,
    collections.abc.AsyncIterator, collections.abc.AsyncIterable, collections.abc.AsyncGenerator,
)


def _yielded(annotation: Any) -> Any:
    """The type a generator function's annotation says it yields
    (``Iterator[Model]``, ``Generator[Model, None, None]``, ``AsyncIterator[Model]``)."""
    try:
        if typing.get_origin(annotation) in _ITERATORS and typing.get_args(annotation):
            return typing.get_args(annotation)[0]
    except Exception:  # an annotation typing cannot read: no record class
        pass
    return inspect.Signature.empty


def _decorate(func: F, options: _Options) -> F:
    if not callable(func) and not isinstance(func, (staticmethod, classmethod)):
        raise InvalidTypeError(f"track() decorates functions, got {describe(func)}")
    if inspect.isclass(func):
        raise InvalidTypeError(
            f"track() decorates functions and methods, not classes: got class {func.__name__!r}; decorate its methods"
        )
    tracked = _Tracked(func, options)
    inner = tracked.func
    kind = _kind_of(inner)

    if inspect.isasyncgenfunction(kind):

        def async_gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            # Made now: wrong arguments raise at the call, as without @track.
            # Its parent is the execution it is called in (see _entered_where_made).
            made = wrapped(*args, **kwargs)
            return _track_async_generator(tracked, made, instance, args, kwargs, made_in=_live(_current.get()))

        return _TrackedFunction(func, async_gen_wrapper)  # type: ignore[return-value]

    if inspect.iscoroutinefunction(kind):

        def async_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            # Made now: wrong arguments raise at the call, as without @track
            # (they raised at the await).
            coroutine = wrapped(*args, **kwargs)
            # The execution it is called in: its parent when it is awaited in
            # none, or in that one's own context (see _entered_where_made).
            made_in = _live(_current.get())
            never_awaited: List[Any] = []  # the finalizer below

            async def tracked_call() -> Any:
                __tracebackhide__ = True  # see wrapper
                scope = tracked.scope(instance, args, kwargs)
                # Awaited in another execution (jobs made first, then gathered
                # in a with block): that one, as for a call made there.
                awaited_in = _current.get()
                _entered_where_made(scope, made_in if awaited_in is made_in or _live(awaited_in) is None else None)
                if never_awaited:
                    # Awaited now: closing this one closes the inner (the await
                    # passes it on), and the finalizer, held by weakref's registry
                    # till then, held the inner's frame: a pending task destroyed
                    # (its future's callback holds it) was never freed.
                    never_awaited[0].detach()
                scope._token = _current.set(scope)
                try:
                    result = await coroutine
                    tracked.outputs(scope, result)
                except BaseException as exc:
                    scope._detach()
                    scope._finish(exc, coroutine=True)
                    raise
                scope.__exit__(None, None, None)
                return result

            awaitable: Any = tracked_call()
            try:  # named as the function's own coroutine is (in warnings, asyncio's task names)
                awaitable.__name__, awaitable.__qualname__ = coroutine.__name__, coroutine.__qualname__
            except (AttributeError, TypeError):  # not a plain coroutine (a wrapped awaitable)
                pass
            close = getattr(coroutine, "close", None)
            if close is not None:
                # Never started (a task cancelled before it ran, a coroutine
                # never awaited): closed with this one, so that Python warns
                # once, of this one, as without @track (not also of the inner).
                never_awaited.append(weakref.finalize(awaitable, close))
            return awaitable

        return _TrackedFunction(func, async_wrapper)  # type: ignore[return-value]

    if inspect.isgeneratorfunction(kind):

        def gen_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
            # Made now: wrong arguments raise at the call, as without @track.
            # Its parent is the execution it is called in (see _entered_where_made).
            made = wrapped(*args, **kwargs)
            return _kept_generator(tracked, made, instance, args, kwargs, made_in=_live(_current.get()))

        return _TrackedFunction(func, gen_wrapper)  # type: ignore[return-value]

    # Under a decorator of its own (functools.wraps) an async or generator
    # function is a plain one to inspect: what the call returns says it.
    # (For a callable instance, what its class's __call__ wraps.)
    underneath = _kind_of(inspect.unwrap(inner)) if hasattr(inner, "__wrapped__") else inspect.unwrap(kind)
    may_defer = (
        inspect.iscoroutinefunction(underneath)
        or inspect.isgeneratorfunction(underneath)
        or inspect.isasyncgenfunction(underneath)
    )
    # A plain function under one may be run later too, by a decorator that
    # submits it to a pool and returns the future (it ended COMPLETE at
    # once, with no outputs, also when the function then failed).
    may_return_future = not may_defer and underneath is not kind

    def wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
        __tracebackhide__ = True  # IPython and pytest leave this frame out of the user's traceback
        scope = tracked.scope(instance, args, kwargs)
        if not (may_defer or may_return_future):
            with scope:
                result = wrapped(*args, **kwargs)
                tracked.outputs(scope, result)
            return result
        scope._until_body = may_defer
        scope.__enter__()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        if asyncio.isfuture(result) or isinstance(result, concurrent.futures.Future):
            # A task or future (asyncio.ensure_future, run_coroutine_threadsafe,
            # an executor's submit): the caller's, as it is (awaited, waited
            # on, given callbacks, or not awaited: it runs anyway); the
            # execution ends when it is done (at once if it is already).
            scope._detach()
            scope._body_begins()
            taken = _TakeResult(tracked, scope)
            if isinstance(result, concurrent.futures.Future):
                taken.watch(result)
            _awaiting[taken] = result  # before the callback, which may run now
            result.add_done_callback(functools.partial(_future_done, taken))
            return result
        if may_defer and isinstance(result, _GENERATOR_CONTEXT_MANAGERS) and _is_generator(getattr(result, "gen", None)):
            # @contextlib.contextmanager (or asynccontextmanager): the with
            # block's enter and exit run the generator it holds, which is
            # tracked as one the call returned (it ended COMPLETE at the call).
            scope._detach()
            scope._postpone()
            result.gen = _generator_begun_at_the_call(tracked, scope, result.gen, instance, args, kwargs)  # type: ignore[attr-defined]
            if getattr(result, "func", None) is not None:
                # Used as a decorator (ContextDecorator), it is made anew for
                # each call of the function it decorates, from its func (the
                # generator function, untracked): a call of this one instead.
                result.func = lambda *_args, **_kwargs: wrapper(wrapped, instance, args, kwargs).gen  # type: ignore[attr-defined]
            return result
        if may_defer and (inspect.isawaitable(result) or inspect.isgenerator(result) or inspect.isasyncgen(result)):
            # The body runs later: the execution begins and ends when it does.
            scope._detach()
            scope._postpone()
            if inspect.isasyncgen(result) or inspect.isgenerator(result):
                return _generator_begun_at_the_call(tracked, scope, result, instance, args, kwargs)
            # Whether its body began: a coroutine's state says, another
            # awaitable's is whether the one made here began (see _never_begun).
            started: Optional[List[bool]] = None if inspect.iscoroutine(result) else [False]
            never_awaited: List[Any] = []  # the finalizer below
            awaitable: Any = _continue_coroutine(tracked, scope, result, started, never_awaited)
            try:  # named as the function's own coroutine is
                awaitable.__name__, awaitable.__qualname__ = result.__name__, result.__qualname__  # type: ignore[attr-defined]
            except (AttributeError, TypeError):  # another awaitable
                pass
            never_awaited.append(weakref.finalize(awaitable, _never_begun, scope, result if started is None else started))
            return awaitable
        try:
            tracked.outputs(scope, result)
        except BaseException as exc:  # strict mode
            scope.__exit__(type(exc), exc, exc.__traceback__)
            raise
        scope.__exit__(None, None, None)
        return result

    return _TrackedFunction(func, wrapper)  # type: ignore[return-value]


# What @contextlib.contextmanager and @asynccontextmanager return: a context
# manager that runs the generator it holds (its gen).
_GENERATOR_CONTEXT_MANAGERS = tuple(
    cls for cls in (getattr(contextlib, "_GeneratorContextManagerBase", None),) if isinstance(cls, type)
)


def _is_generator(value: Any) -> bool:
    return inspect.isgenerator(value) or inspect.isasyncgen(value)


def _generator_begun_at_the_call(
    tracked: _Tracked, scope: ExecutionScope, gen: Any, instance: Any, args: Any, kwargs: Any
) -> Any:
    """*gen*, a generator or async generator a plain function made, tracked
    in *scope* (entered at the call): its execution begins when its body
    does, and one never started writes nothing (as a generator function's)."""
    if inspect.isasyncgen(gen):
        began = [False]
        agen = _track_async_generator(tracked, gen, instance, args, kwargs, given=scope, began=began)
        weakref.finalize(agen, _never_begun, scope, began)
        return agen
    generator = _kept_generator(tracked, gen, instance, args, kwargs, scope=scope)
    weakref.finalize(generator, _never_begun, scope, gen)
    return generator


class _BoundTrackedFunction(wrapt.BoundFunctionWrapper):  # type: ignore[misc]
    def __reduce_ex__(self, protocol: Any) -> Any:
        # As a bound method pickles: getattr(instance or class, name).
        owner = self._self_instance
        if owner is None:
            owner = getattr(self, "_self_owner", None)  # wrapt >= 2 keeps the class
        return (getattr, (owner, self.__name__)) if owner is not None else self.__qualname__


class _TrackedFunction(wrapt.FunctionWrapper):  # type: ignore[misc]
    """A tracked function. Pickled by reference, as the function it wraps is
    (multiprocessing and concurrent.futures pickle the functions they send
    to workers; wrapt's proxies refuse to be pickled)."""

    __bound_function_wrapper__ = _BoundTrackedFunction

    def __reduce_ex__(self, protocol: Any) -> Any:
        return self.__qualname__

    def __copy__(self) -> _TrackedFunction:
        return self  # as copy.copy(function) is the function

    def __deepcopy__(self, memo: Any) -> _TrackedFunction:
        return self


def _never_begun(scope: ExecutionScope, inner: Any) -> None:
    """The generator or awaitable of a call that began at the call (see
    _decorate) is gone. If its body never ran (never iterated, never
    awaited), nothing is written, as for a generator or async function of
    its own: called by the garbage collector, anywhere, this only drops the
    start write, and one written already (the start delay passed while a
    slow decorator made the coroutine) is ended CANCELED by a start writer
    thread (see _end_dropped). The inner coroutine is closed with it, so
    that Python warns once, of the outer one, as without @track. One that ran ends as
    it does (this runs before a generator's own close, so it leaves that
    one alone)."""
    if inspect.iscoroutine(inner):
        if inspect.getcoroutinestate(inner) != inspect.CORO_CREATED:
            return
        inner.close()
    elif inspect.isgenerator(inner):
        if inspect.getgeneratorstate(inner) != inspect.GEN_CREATED:
            return
    elif isinstance(inner, list):  # an async generator's, or another awaitable's: [whether its body began]
        if inner[0]:
            return
    elif inner is not None:  # (none other is given)
        return
    if not scope._done:
        scope._dropped = True  # before _done: see _write_start, which may be writing its start now
        scope._done = True
        _open.pop(scope, None)
        if scope._scheduled is not None:
            _scheduler.remove(scope._scheduled)
        if scope._start_written:
            # RUNNING is stored (its start delay passed while a slow decorator
            # made the coroutine): ended, not RUNNING for good. Not written
            # here, where the garbage collector may have stopped a write;
            # at exit (the main thread running the finalizers left), here:
            # the workers stop with the interpreter.
            main = threading.main_thread()
            if main.is_alive() or threading.current_thread() is not main:
                _scheduler.end_later(scope)
            else:
                scope._end_dropped()


class _TakeResult:
    """The outputs of a future a wraps decorator returned, taken when it
    completes.

    A concurrent.futures.Future wakes the threads waiting in result() before
    it calls its done callbacks: the caller could change the record it got
    (``m = f().result(); m.uri = ...``) before the callback read it, and the
    changed record was written. Added to the future's waiters (as
    concurrent.futures.wait adds its own), this one is told of the result by
    set_result under the future's lock, before any result() returns: the
    records are mapped then (a converter of the return type runs there), and
    copies of them as they are then are what the done callback adds to the
    outputs and writes (not under that lock, nor is the execution's lock
    taken under it: a write of the execution under way, its start, would
    hold up every result() and done() of the future). A future that completed already, or one whose
    set_result tells no waiters, is read by the done callback. An asyncio
    future calls its callbacks in order, this one's before any the caller
    adds, and the write is made in that callback; only code that polls
    done() and changes the result in the loop iteration between could
    still be first.
    """

    __slots__ = ("tracked", "scope", "taken", "found", "error", "ended")

    def __init__(self, tracked: _Tracked, scope: ExecutionScope) -> None:
        self.tracked, self.scope = tracked, scope
        self.ended = threading.Event()  # set once _future_done ended the execution
        self.taken = False
        self.found: Optional[List[Tuple[Artifact, Tuple[Any, ...]]]] = None  # the copies taken
        self.error: Optional[BaseException] = None  # of the mapping, in strict mode

    def watch(self, future: concurrent.futures.Future) -> None:
        waiters = getattr(future, "_waiters", None)
        condition = getattr(future, "_condition", None)
        if not isinstance(waiters, list) or condition is None:  # not the stdlib's: read when done
            return
        with condition:
            if not future.done():
                waiters.append(self)

    def add_result(self, future: Any) -> None:
        # Called by set_result, in the thread that completes the future, with
        # its lock held: nothing may raise out of here (the future would stay
        # unfinished for the threads waiting on it).
        try:
            self.taken = True
            self.found = self.tracked.copied_outputs(self.scope, future._result)
        except BaseException as error:  # strict mode
            self.error = error

    def add_exception(self, future: Any) -> None:
        pass

    def add_cancelled(self, future: Any) -> None:
        pass


def _future_done(taken: _TakeResult, future: Any) -> None:
    with _ending_lock:  # taken from one, put in the other at once: the exit handler sees it in one of them
        if _awaiting.pop(taken, None) is None:
            return  # ended by the exit handler already (or by the done callback, for the exit handler)
        _ending.add(taken)
    exc: Optional[BaseException] = None
    try:
        if future.cancelled():
            exc = asyncio.CancelledError()
        else:
            exc = future.exception()
            if exc is None:
                if taken.error is not None:
                    exc = taken.error
                elif taken.found:
                    taken.scope._add_outputs(taken.found)
                elif not taken.taken:
                    taken.tracked.outputs(taken.scope, future.result())
    except BaseException as error:  # strict mode
        exc = error
    try:
        taken.scope._finish(exc)
    finally:
        taken.ended.set()
        _ending.discard(taken)


async def _continue_coroutine(
    tracked: _Tracked,
    scope: ExecutionScope,
    coroutine: Any,
    began: Optional[List[bool]] = None,
    never_awaited: Optional[List[Any]] = None,
) -> Any:
    # What a plain function returned for an async function under a
    # decorator of its own: its execution, begun at the call, ends with
    # the await. *never_awaited*: the finalizer for one never awaited (see
    # _never_begun), of no use once begun, and dropped: it held the
    # coroutine, and so what its frame waits on (see async_wrapper).
    if never_awaited:
        never_awaited[0].detach()
    if began is not None:
        began[0] = True
    scope._body_begins()
    token = _current.set(scope)
    try:
        try:
            result = await coroutine
            tracked.outputs(scope, result)
        finally:
            try:
                _current.reset(token)
            except ValueError:  # ended in another context
                pass
    except BaseException as exc:
        scope._finish(exc, coroutine=True)
        raise
    scope._finish(None)
    return result


# The executions of generators that have begun: one still suspended when the
# process exits (a loop that broke out of it, a generator kept in a global)
# ends then, as one closed early does. It was closed only as the interpreter
# tore its modules down, when its end could not be written (ImportError:
# sys.meta_path is None): with its start not written yet (a call shorter than
# the start delay), the execution, its inputs and what it had yielded were lost.
_suspended: weakref.WeakSet = weakref.WeakSet()
# The tracked (sync) generators themselves: one suspended at exit is closed
# there, as by its consumer, so that its finally blocks run in its execution
# before it ends (ended first, they ran as the interpreter tore down, with no
# execution current: what they logged was lost). An async generator needs
# its event loop to close it: its execution is only ended. Each is kept with
# the thread its last step ran in (see _track_generator): one a thread still
# alive at exit (a daemon) iterates is not closed from under it, only ended
# (closed, its loop there ended as if exhausted, and the code after it ran);
# and with its scope: a forked child does not close its parent's.
_generators: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# The thread each tracked async generator's last step ran in, by its scope
# (see _track_async_generator): one a thread still alive at exit iterates
# (a loop in a daemon thread) is ended CANCELED, as a sync one is.
_async_stepped: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
# The executions waiting for a future a wraps decorator's call returned, with
# the future, until it is done: one not done at exit (never completed: a
# future the function made itself, a loop in a daemon thread) ends CANCELED
# then, not RUNNING for good (held here: one dropped by all was, when only
# weakly held). One done by then whose done callback has not ended it yet
# (another thread's set_result still mapping the result) is ended by the exit
# handler as the callback would: it was ended CANCELED, "not done", without
# its outputs. Whichever of the two pops it here ends it. (A thread or process
# pool's are done by then: the interpreter waits for their work before it
# runs the exit handlers.)
_awaiting: Dict[_TakeResult, Any] = {}
# Those a done callback has taken from _awaiting and is ending (see _future_done).
_ending: Set[_TakeResult] = set()
_ending_lock = threading.Lock()
renew_after_fork(globals(), "_ending_lock")
# The executions entered and not ended yet (with blocks and tracked calls;
# a dict for the order they were entered in: set and popped atomically, with
# no lock, by any thread). One still open when the process exits (a call or
# a with block in a daemon thread, stopped with the interpreter) is ended
# then, CANCELED (see _end_open): with its start written it stayed RUNNING
# for good, and one shorter than its start delay was lost whole.
_open: Dict[ExecutionScope, None] = {}
# Why one ended at exit while its thread ran on is CANCELED (an error message, with no error type).
_STILL_RUNNING = "the execution was still running when the process exited"


@atexit.register
def _end_suspended_generators() -> None:
    # Registered after the spool's exit handler, so run before it: what is
    # written here and spooled is still replayed at exit.
    here, pid = threading.get_ident(), os.getpid()
    alive = set(sys._current_frames()) | {thread.ident for thread in threading.enumerate()}
    # Those another thread still iterates (a daemon, stopped with the
    # interpreter): they did not finish, and end CANCELED below, as a call
    # or a with block still running in such a thread does (see _end_open).
    # One suspended in this thread is closed, as its consumer left it.
    elsewhere: Set[ExecutionScope] = {
        scope for scope, stepped in list(_async_stepped.items()) if stepped[0] != here and stepped[0] in alive
    }
    for generator, stepped in list(_generators.items()):
        if stepped[0] != here and stepped[0] in alive:
            if stepped[1] is not None:
                elsewhere.add(stepped[1])
            continue  # another thread's, still running: ended below, not closed
        if stepped[1] is None or stepped[1]._pid != pid:
            # The parent's (a forked child): closed here, its finally blocks
            # ran in this process, in an execution only the parent writes
            # (what they logged raised "belongs to process"). The parent
            # closes it at its exit.
            continue
        if inspect.getgeneratorstate(generator) == inspect.GEN_SUSPENDED:
            try:
                generator.close()
            except BaseException:  # its own code failed (its execution says so): told as Python tells it
                # Also a SystemExit or KeyboardInterrupt of its finally
                # block (Ctrl-C into one that hung): raised out of here, it
                # stopped this handler, and the executions below were left
                # RUNNING. The other generators are still closed here: one
                # left open is closed anyway as the interpreter tears down
                # (its finally blocks run then too, and may hang as well),
                # after its execution ended: what they logged was lost.
                print(f"Exception ignored in: {generator!r}", file=sys.stderr)
                traceback.print_exc()
    # One budget for all the waits below (each for a thread still running).
    drain_until = time.monotonic() + _env.number("LINEAGE_EXIT_DRAIN_SECONDS", 3.0)
    left: Set[ExecutionScope] = set()
    for scope in list(_suspended):
        if not scope._done and scope._pid == pid:
            # A daemon thread iterating it may hold its lock (a write that
            # hangs): waited for within the budget only, as in _end_open.
            if not _locked_by_exit(scope, drain_until):
                left.add(scope)
                continue
            try:
                if not scope._done:  # (its thread ended it while this waited)
                    # Its thread (a daemon) may run on, in its code: what it
                    # logs now is dropped, not raised into it (see _check_open).
                    scope._ended_at_exit = True
                    if scope in elsewhere:
                        scope._end("CANCELED", {"lineage.error_message": _STILL_RUNNING})
                    else:
                        scope._finish(GeneratorExit())
            except Exception:  # strict mode (a write that failed raises there): the others are still ended
                log.exception("lineage: ending execution %r at the process's exit failed", scope.name)
            finally:
                scope._lock.release()
    for taken, future in list(_awaiting.items()):
        if taken.scope._pid != pid:
            continue  # the parent's (a forked child): the parent ends it
        if future.done():  # (a concurrent one's waits for its set_result to finish mapping)
            _future_done(taken, future)
        elif _awaiting.pop(taken, None) is not None:
            taken.scope._finish(asyncio.CancelledError("the future the call returned was not done when the process exited"))
    # Those a done callback, in the thread that completed the future (a
    # daemon), is ending now: waited for, within the exit's budget for
    # lineage's writes (the thread was stopped with the interpreter, mid-write,
    # and the execution stayed RUNNING for good, its outputs lost).
    with _ending_lock:
        ending = list(_ending)
    for taken in ending:
        if taken.scope._pid == pid:
            taken.ended.wait(max(0.0, drain_until - time.monotonic()))  # the budget is at most _env.MAX_SECONDS
    _end_open(pid, drain_until, left | {taken.scope for taken in ending if not taken.ended.is_set()})


def _end_open(pid: int, drain_until: float, busy: Set[ExecutionScope]) -> None:
    """End CANCELED the executions of this process still open at its exit:
    those of other threads (daemons: the interpreter stops them at
    finalization), innermost first, with what they logged.

    Such a thread still runs here, and may be ending its execution itself
    (or writing its start): its lock is waited for within the exit's budget
    (*drain_until*), then it is seen ended and left alone. One whose lock
    stays held past that (a write that hangs) is left, and said in a log
    line: exit is not held up for it. Never raises. Left out: those of a
    forked child's parent (the parent ends them), a call whose body never
    began (see _never_begun), and *busy*, being ended by a future's done
    callback still (see _future_done)."""
    for scope in reversed(list(_open)):
        if scope._pid != pid or scope._postponed is not None or scope in busy:
            continue  # (one its thread is ending now is _done, and still here: waited for below)
        if not _locked_by_exit(scope, drain_until):
            continue
        try:
            if scope._done:  # its thread ended it while this waited
                continue
            scope._ended_at_exit = True
            scope._end("CANCELED", {"lineage.error_message": _STILL_RUNNING})
        except Exception:  # strict mode (a write that failed raises there): the other executions are still ended
            log.exception("lineage: ending execution %r at the process's exit failed", scope.name)
        finally:
            scope._lock.release()


def _locked_by_exit(scope: ExecutionScope, drain_until: float) -> bool:
    """Take *scope*'s lock for the exit handler, waiting until *drain_until*
    at most; False, said in a log line, if its thread holds it past that."""
    if scope._lock.acquire(timeout=max(0.0, drain_until - time.monotonic())):
        return True
    log.warning(
        "lineage: execution %r was still running when the process exited, and its thread held it past the "
        "exit's budget (LINEAGE_EXIT_DRAIN_SECONDS=%g): not ended, left RUNNING in the store (or not written, "
        "if its start delay had not passed)", scope.name, _env.number("LINEAGE_EXIT_DRAIN_SECONDS", 3.0),
    )
    return False


def _entered_where_made(scope: ExecutionScope, made_in: Optional[ExecutionScope]) -> None:
    """Enter a generator's (or an async function's coroutine's) *scope* at
    its first step, with the execution running where it was called
    (*made_in*) as its parent, as a call's is (and a wraps decorator's
    generator's, entered at the call).
    The first step's own was taken: one iterated by another thread (a pool's,
    ThreadPool.imap, whose context is its own) recorded no parent, and was
    written in the default workspace and run, not its caller's. Not left
    current after. Called outside any, its parent is the first step's (a
    stream made at the top of a script, consumed in a with block), as
    before. So is one whose caller has ended since, when the first step
    runs in another execution: a stream a tracked factory made
    (make_stream() returns batches(...)), consumed in a with block, took the
    factory's parent (often none: the default workspace and run), not the
    block. One whose caller has ended since and that runs in no other (a
    task the caller made and did not wait for, begun once the caller had
    returned; its context holds the caller, ended) keeps the caller: an
    ended one was skipped as a with block exited in another context is (see
    _live), and the task recorded no parent, in the default workspace and
    run, or its caller, as the loop happened to run it before or after the
    caller ended."""
    if made_in is not None and _live(made_in) is not made_in:  # ended since the call (or a forked child's)
        current = _current.get()
        if made_in._pid == os.getpid() and (current is made_in or current_execution() is None):
            scope._ended_caller = made_in
        elif current_execution() is not None:
            made_in = None
    token = _current.set(made_in) if made_in is not None else None
    try:
        scope.__enter__()
        scope._detach()
    finally:
        if token is not None:
            _current.reset(token)


def _kept_generator(
    tracked: _Tracked,
    gen: Any,
    instance: Any,
    args: Any,
    kwargs: Any,
    scope: Optional[ExecutionScope] = None,
    made_in: Optional[ExecutionScope] = None,
) -> Any:
    """_track_generator's generator, kept in _generators for the exit handler."""
    stepped: List[Any] = [threading.get_ident(), None]
    generator = _track_generator(tracked, gen, instance, args, kwargs, scope, stepped, made_in)
    _generators[generator] = stepped
    return generator


def _track_generator(
    tracked: _Tracked,
    gen: Any,
    instance: Any,
    args: Any,
    kwargs: Any,
    scope: Optional[ExecutionScope],
    stepped: List[Any],
    made_in: Optional[ExecutionScope] = None,
) -> Any:
    # A generator function: the execution starts at the first next() and
    # ends when the generator is exhausted, closed or fails. The current
    # execution is set only while the generator's own code runs.
    # *scope*: one entered already (a generator made by a plain function).
    # *stepped*: [the thread its last step ran in, its scope once entered]
    # (see _generators: the scope tells the process it belongs to).
    # *made_in*: the current execution where it was called (its parent).
    __tracebackhide__ = True  # see wrapper
    if scope is None:
        scope = tracked.scope(instance, args, kwargs)
        _entered_where_made(scope, made_in)
    else:
        scope._body_begins()
    _suspended.add(scope)
    stepped[1] = scope
    index = 0
    to_send: Any = None
    throw: Optional[BaseException] = None
    # The current execution of its own code, from one step to the next: a
    # with block it is in across a yield stays current (it was the
    # generator's execution again after the yield).
    inside: Optional[ExecutionScope] = scope
    try:
        while True:
            stepped[0] = threading.get_ident()
            token = _current.set(inside)
            try:
                if throw is not None:
                    exc, throw = throw, None
                    item = gen.throw(exc)
                else:
                    item = gen.send(to_send)
            except StopIteration as stop:
                result = stop.value
                if result is not None:
                    tracked.outputs(scope, result, ("return",))
                break
            finally:
                inside = _current.get()
                _current.reset(token)
            tracked.outputs(scope, item, ("yield", index))
            index += 1
            try:
                to_send = yield item
            except GeneratorExit:
                # Closed early (or dropped): its finally blocks are its own
                # code, run in its execution (they logged to the caller's).
                token = _current.set(inside)
                try:
                    gen.close()
                finally:
                    _current.reset(token)
                raise
            except BaseException as exc:  # thrown in by the consumer
                throw = exc
    except BaseException as exc:
        scope._finish(exc)
        raise
    scope._finish(None)
    return result


def _track_async_generator(
    tracked: _Tracked,
    gen: Any,
    instance: Any,
    args: Any,
    kwargs: Any,
    given: Optional[ExecutionScope] = None,
    began: Optional[List[bool]] = None,
    made_in: Optional[ExecutionScope] = None,
) -> Any:
    # *given*: a scope entered already (an async generator made by a plain
    # function); *began* is set when the body begins (see _never_begun);
    # *made_in*: the current execution where it was called (its parent).
    async def agen() -> Any:
        __tracebackhide__ = True  # see wrapper
        if began is not None:
            began[0] = True
        scope = given
        if scope is not None:
            scope._body_begins()
        if scope is None:
            scope = tracked.scope(instance, args, kwargs)
            _entered_where_made(scope, made_in)
        _suspended.add(scope)
        stepped = _async_stepped[scope] = [threading.get_ident()]
        index = 0
        to_send: Any = None
        throw: Optional[BaseException] = None
        inside: Optional[ExecutionScope] = scope  # see _track_generator
        try:
            while True:
                stepped[0] = threading.get_ident()
                token = _current.set(inside)
                try:
                    if throw is not None:
                        exc, throw = throw, None
                        item = await gen.athrow(exc)
                    elif index == 0:
                        item = await _first_step(gen)
                    else:
                        item = await gen.asend(to_send)
                except StopAsyncIteration:
                    break
                finally:
                    inside = _current.get()
                    _current.reset(token)
                tracked.outputs(scope, item, ("yield", index))
                index += 1
                try:
                    to_send = yield item
                except GeneratorExit:
                    token = _current.set(inside)  # its finally blocks run in its execution (see _track_generator)
                    try:
                        await gen.aclose()
                    finally:
                        _current.reset(token)
                    raise
                except BaseException as exc:  # thrown in by the consumer (athrow)
                    throw = exc
        except BaseException as exc:
            scope._finish(exc)
            raise
        scope._finish(None)

    return agen()


def _first_step(gen: Any) -> Any:
    """The first ``gen.asend(None)`` of a tracked async generator's own,
    kept from the event loop's async generator hooks (they take note of an
    async generator at its first step): the tracked one it runs in is the
    one the loop closes at its shutdown (asyncio.run), and it closes this
    one in its execution (see _track_async_generator). Closed by the loop
    apart, in any order, its finally blocks ran with no execution current."""
    firstiter, finalizer = sys.get_asyncgen_hooks()
    if firstiter is None and finalizer is None:
        return gen.asend(None)
    sys.set_asyncgen_hooks(firstiter=None, finalizer=None)
    try:
        return gen.asend(None)  # the hooks are called here, not when awaited
    finally:
        sys.set_asyncgen_hooks(firstiter=firstiter, finalizer=finalizer)


# --------------------------------------------------------------------------- public constructors


def execution(
    name: Optional[str] = None,
    *,
    workspace: Optional[str] = None,
    run: Optional[str] = None,
    store: Any = None,
    description: Optional[str] = None,
    inputs: Any = None,
    outputs: Any = None,
    exclude: Iterable[str] = (),
    enabled: Optional[bool] = None,
    start_delay: Optional[float] = None,
) -> ExecutionScope:
    """Record a block of code (``with``/``async with``) or decorate a function.

    Args:
        name: Execution name (default: the function's name, or "execution").
        workspace: Workspace name (default: enclosing execution, init(),
            ``LINEAGE_WORKSPACE``, "default").
        run: Run name (default: enclosing execution, init(), one per process).
        store: Store URL or :class:`lineage.Store`.
        description: Description (default: first line of the docstring).
        inputs: Decorator: parameter names (or {name: record class}) that
            are inputs; the others are parameters. With block: records (a
            record, a list of them, or a dict of them by event path step)
            logged as inputs when the block starts (in its first write).
        outputs: Decorator: record class (or tuple/dict of them) the
            return value maps to. With block: records, as for *inputs*,
            logged as outputs (written when the block ends, also if it fails).
        exclude: Decorator only: parameters not to record.
        enabled: Turn recording off for this block/function.
        start_delay: Seconds before the RUNNING state is written.

    Returns:
        A fresh :class:`ExecutionScope`.
    """
    options = _Options.checked(
        "execution",
        name=name,
        workspace=workspace,
        run=run,
        store=store,
        description=description,
        inputs=inputs,
        outputs=outputs,
        exclude=exclude,
        enabled=enabled,
        start_delay=start_delay,
    )
    return ExecutionScope(options)


@overload
def track(func: F) -> F: ...


@overload
def track(
    func: None = None,
    *,
    name: Optional[str] = ...,
    workspace: Optional[str] = ...,
    run: Optional[str] = ...,
    store: Any = ...,
    description: Optional[str] = ...,
    inputs: Any = ...,
    outputs: Any = ...,
    exclude: Iterable[str] = ...,
    enabled: Optional[bool] = ...,
    start_delay: Optional[float] = ...,
) -> Callable[[F], F]: ...


def track(func: Any = None, /, **options: Any) -> Any:
    """Record every call of a function as an MLMD execution.

    ``@track``, ``@track()`` and ``@track(name=..., ...)`` all work (see
    :func:`execution` for the options), on functions, async functions,
    generator functions, methods, classmethods and staticmethods.
    """
    unknown = set(options) - set(attrs.fields_dict(_Options))
    if unknown:
        raise InvalidTypeError(f"track() got unexpected option(s) {sorted(unknown)}; known: {sorted(attrs.fields_dict(_Options))}")
    checked = _Options.checked("track", **options)
    if func is None:
        return lambda f: _decorate(f, checked)
    return _decorate(func, checked)
