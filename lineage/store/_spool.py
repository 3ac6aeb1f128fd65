"""The spool: a durable journal of writes the store did not take, and replay.

When a write cannot reach the store, it is appended to this process's spool
file under ``$LINEAGE_HOME/spool/`` (one JSON line per write, flushed and
fsync'd before the call returns), and every later write of the process queues
behind it so the graph stays whole. A background thread retries the queue in
order; when the store answers again the spool drains by itself. What is left
when the process ends is replayed by ``lineage sync``.

The journal is append-only and safe to read while written: a reader takes
complete lines only, so a process killed in the middle of a write loses at
most that write. Replayed entries are acknowledged by ``{"ack": seq}`` lines;
a fully acknowledged file is deleted. Replay is idempotent (client-made
external ids), so replaying twice, or after a replay that was killed, never
duplicates anything.

Only an unterminated last line can be a write cut short by a crash. Before
``lineage sync`` appends to such a file it ends that line and marks it with
``{"cut": line}``, so acks are never glued to it and later reads know it was
cut. Any other line that cannot be read (not JSON, not a record, a write that
does not decode) is reported as unreadable and kept: a file holding one is
never deleted, so it can be repaired by hand.

An entry holds a write (``"write"``), or the contexts a ``Workspace()`` or
``Run()`` made while the store was down is to find or make (``"contexts"``,
a list of their specs: see PendingContexts). The format has no version
number: what is added is read as absent by older code where it can be (a
pair's ``by_uri``), and a ``"contexts"`` entry, which it cannot replay, is
reported by its ``lineage sync`` as an entry with no write, and kept.

Each file is held with an exclusive ``flock`` by the process that writes it
(or by ``lineage sync`` while it replays it), so two replays never race.
"""

from __future__ import annotations

import atexit
import base64
import datetime
import fcntl
import json
import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple

import attrs

from lineage import _env
from lineage._fork import renew_after_fork
from lineage.errors import InvalidValueError, StoreError, StoreUnavailableError, warn_never_raised
from lineage.store._url import StoreURL, default_home

__all__ = ["Spool", "SyncReport", "spool_dir", "spool_files", "read_journal", "status", "sync"]

log = logging.getLogger("lineage.spool")

_SUFFIX = ".spool"
#: Writes kept in memory when the spool file cannot be written.
MEMORY_LIMIT = 10_000
#: Seconds at least between two warnings of a spool. One warning is shown
#: per outage (the spool warns again once it has drained, every write
#: landed); a store that goes down again within this time is warned about
#: only at a write after it, so a store flapping every few seconds does not
#: warn every few seconds. Writes left at exit are said all the same.
WARNING_INTERVAL = 60.0


def spool_dir(home: Optional[str] = None) -> str:
    return os.path.join(home or default_home(), "spool")


def url_to_json(url: StoreURL) -> Dict[str, Any]:
    data = attrs.asdict(url)
    data["tls"] = {k: base64.b64encode(v).decode("ascii") for k, v in url.tls.items()}
    return data


def url_from_json(data: Dict[str, Any]) -> StoreURL:
    data = dict(data)
    data["tls"] = {k: base64.b64decode(v) for k, v in (data.get("tls") or {}).items()}
    return StoreURL(**data)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# --------------------------------------------------------------------------- the live spool

_live: weakref.WeakSet[Spool] = weakref.WeakSet()


class Spool:
    """This process's spool for one store."""

    def __init__(self, url: StoreURL, writer: Any) -> None:
        self.url = url
        self.writer = writer
        self.path: Optional[str] = None
        self._lock = threading.Lock()
        renew_after_fork(self, "_lock")  # the child's spool starts empty: _check_fork
        # (seq, write, whether it may have reached the store: only such a
        # write needs replay's lookups; one queued behind others never left)
        self._queue: Deque[Tuple[int, Any, bool]] = deque()
        self._failed: Set[int] = set()
        self._file: Any = None
        self._seq = 0
        self._pid = os.getpid()
        self._drainer: Optional[threading.Thread] = None
        # Whether this outage was warned about: reset when the queue drains
        # (its writes all landed), so that the next outage is told too; a
        # process that runs for hours was told of its first outage only.
        self._warned = False
        self._warned_at: Optional[float] = None  # time.monotonic() of the last warning (see WARNING_INTERVAL)
        self._state: Optional[str] = None  # what the last write that met the store down found (see _state), this outage
        self._cause: Optional[BaseException] = None  # and the error it met (see queued_behind)
        self._abandoned = False
        # Why the journal cannot be written now: None again once a write is
        # journaled (the home is writable again, the disk has room), so that
        # writes are no longer dropped past MEMORY_LIMIT when they are on disk.
        self._memory_only: Optional[OSError] = None
        self._unjournaled: Set[int] = set()  # seqs of the queued writes that are only in memory
        self._journal_error: Optional[OSError] = None  # why the last of them was not journaled (said at exit)
        self._dropped = 0  # writes dropped from memory past MEMORY_LIMIT
        self._lost = 0  # of which not journaled: lost for good
        self._drop_said = False
        _live.add(self)

    def abandon(self) -> None:
        """Stop replaying and release the journal (it stays on disk for `lineage sync`)."""
        with self._lock:
            self._abandoned = True
            self._queue.clear()
            self._unjournaled.clear()
            if self._file is not None:
                self._file.close()
                self._file = None

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child starts with an empty spool
            self._queue, self._failed, self._file, self.path = deque(), set(), None, None
            self._seq, self._drainer, self._warned, self._pid = 0, None, False, os.getpid()
            self._warned_at, self._state, self._cause = None, None, None
            self._memory_only, self._dropped, self._drop_said = None, 0, False
            self._unjournaled, self._journal_error, self._lost = set(), None, 0

    def pending(self) -> bool:
        """True while writes wait to be replayed."""
        if self._pid != os.getpid():
            with self._lock:
                self._check_fork()
        return bool(self._queue)

    def queued_behind(self) -> StoreUnavailableError:
        """The error for a write that may not be spooled (strict mode) and
        would queue behind the writes waiting here: what the last of them met
        (a server overloaded, or refusing the connection: a setting to fix),
        not "unreachable" for all."""
        cause = self._cause
        refusal, busy = getattr(cause, "refusal", None), getattr(cause, "overload", None)
        url = self.url.redacted()
        if refusal or busy:  # said as the spool's warning says it
            message = f"store {url} {_state(cause)}; earlier writes wait in the spool"
        else:
            message = f"store {url} is unreachable: earlier writes wait in the spool"
        return StoreUnavailableError(message, cause=cause, refusal=refusal, overload=busy)

    def __len__(self) -> int:
        return len(self._queue)

    def _open(self) -> None:
        folder = spool_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}{_SUFFIX}"
        path = os.path.join(folder, name)
        # Made under a name `lineage sync` and `status` do not list, locked,
        # then renamed: a sync that met the file between its creation and
        # its lock deleted it as empty (the writes then went to a deleted
        # file), or held its lock (the journal was given up for memory).
        hidden = path + ".new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.rename(hidden, path)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(hidden)
            except OSError:
                pass
            raise
        self.path = path
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def _append_line(self, record: Dict[str, Any], sync: bool) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def append(self, pending: Any, cause: Optional[BaseException] = None) -> None:
        """Journal a write durably and queue it for replay."""
        unjournaled: Optional[OSError] = None
        urgent = False  # told whenever it happens: writes are now at risk
        with self._lock:
            self._check_fork()
            self._seq += 1
            if cause is not None:
                self._state, self._cause = _state(cause), cause
            try:
                if self._file is None:
                    self._open()
                record = {"seq": self._seq, "time": _now(), "pid": os.getpid(), "store": url_to_json(self.url)}
                self._append_line({**record, pending.JOURNAL_KEY: pending.to_json()}, sync=True)
                self._memory_only = None  # journaled again: the next failure is warned about again
            except OSError as exc:
                # No journal (a read-only or full LINEAGE_HOME): the write is
                # still queued and replayed from memory, and the next calls
                # queue behind it at once instead of each waiting out the
                # retry budget. Only a process ending first loses it.
                unjournaled = exc
                self._unjournaled.add(self._seq)
                self._journal_error = exc
                if self._memory_only is None:
                    self._memory_only = exc
                    urgent = True  # the warning says where writes are, now memory (once while the journal fails)
            self._queue.append((self._seq, pending, cause is not None))
            if len(self._queue) > MEMORY_LIMIT and self._memory_only is not None:
                dropped = self._queue.popleft()[0]
                self._dropped += 1
                if dropped in self._unjournaled:  # else it is in the journal, for `lineage sync`
                    self._unjournaled.discard(dropped)
                    self._lost += 1
                if not self._drop_said:  # once: the count is in the message at exit
                    self._drop_said = True
                    log.error(
                        "lineage drops its oldest waiting writes: more than %d wait in memory (the spool file cannot be written)",
                        MEMORY_LIMIT,
                    )
            now = time.monotonic()
            quiet = self._warned_at is not None and now - self._warned_at < WARNING_INTERVAL
            first = urgent or not (self._warned or quiet)
            if first:
                # Not set while kept quiet: a write of this outage after the
                # interval is warned about (it may last for hours).
                self._warned, self._warned_at = True, now
            # A write queued behind others met no store: said as the last one that did.
            state = self._state or _state(None)
            # Asked before the replay starts: MLMD's logging of the replay's
            # failures (absl) puts a handler on the root logger while it
            # retries, and the warning was then logged too, as if the user
            # had set up logging (told twice).
            configured = first and logging_configured(log)
            if self._drainer is None or not self._drainer.is_alive():
                self._drainer = threading.Thread(target=self._drain_loop, name="lineage-spool-drainer", daemon=True)
                self._drainer.start()
        if first:
            if unjournaled is not None:
                message = (
                    f"lineage store {self.url.redacted()} {state}, and the spool cannot be written "
                    f"({type(unjournaled).__name__}: {unjournaled}); writes are kept in memory and retried in the "
                    "background, and are lost if this process ends before the store answers"
                )
            else:
                message = (
                    f"lineage store {self.url.redacted()} {state}; writes are kept in the spool "
                    f"{self.path} and retried in the background (`lineage sync` replays what is left)"
                )
            # Logged too only where logging is set up (else it would be printed
            # twice: the warning says it), and not when it was logged instead.
            # Shown again for another outage though its words are the first's
            # (no spool file named: writes in memory): kept to one per outage here.
            if not warn_never_raised(message, again=True) and configured:
                log.warning(message)

    def _drain_loop(self) -> None:
        delay = _interval()
        while True:
            with self._lock:
                if self._abandoned:
                    self._drainer = None
                    if self._file is not None:
                        self._file.close()
                        self._file = None
                    return
                if self._pid != os.getpid() or not self._queue:
                    self._drainer = None
                    self._finish_file()
                    # Every write landed (or was refused, and said): the
                    # next outage is warned about again (WARNING_INTERVAL).
                    self._warned, self._state, self._cause = False, None, None
                    return
                seq, pending, attempted = self._queue[0]
                only_in_memory = seq in self._unjournaled
            try:
                self.writer.submit(pending, replay=attempted)
            except StoreUnavailableError:
                with self._lock:  # it may have landed (a deadline): look first next time
                    if self._queue and self._queue[0][0] == seq:
                        self._queue[0] = (seq, pending, True)
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception as exc:  # the store refuses it: keep it for `lineage sync` to report
                log.error("a spooled write cannot be replayed (%s: %s); it stays in %s", type(exc).__name__, exc, self.path)
                with self._lock:
                    if self._pop(seq):
                        self._failed.add(seq)
                continue
            delay = _interval()
            with self._lock:
                if not self._pop(seq):
                    if not self._abandoned and self._dropped:
                        self._dropped -= 1  # dropped past MEMORY_LIMIT while it was sent: it landed all the same
                        if only_in_memory and self._lost:
                            self._lost -= 1
                    continue
                if self._file is not None:
                    try:
                        self._append_line({"ack": seq}, sync=False)
                    except OSError:
                        # A full disk: the write is in the store; without its ack a
                        # later `lineage sync` finds it there (idempotent). The
                        # replay goes on: it must not die with writes in memory.
                        pass

    def _pop(self, seq: int) -> bool:
        """Take the write just replayed off the queue, if it is still first
        (called with the lock held). While it was being sent, abandon() may
        have emptied the queue, or a write past MEMORY_LIMIT dropped it: the
        first entry is then another write, not yet sent."""
        if self._queue and self._queue[0][0] == seq:
            self._queue.popleft()
            self._unjournaled.discard(seq)
            return True
        return False

    def _finish_file(self) -> None:
        # Called with the lock held once the queue is empty.
        if self._file is None:
            return
        # Kept while it holds writes not replayed: refused ones, and ones
        # journaled before the journal failed and then dropped from memory.
        if not self._failed and not self._dropped and self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        try:
            self._file.close()
        except OSError:  # its last bytes cannot be flushed (a full disk): acks only
            pass
        self._file, self.path, self._failed = None, None, set()

    def drain(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for the queue to empty."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.pending()


def _state(cause: Optional[BaseException]) -> str:
    """What the spool's warning says of the store, from what a write met."""
    state = f"is unreachable ({type(cause).__name__}: {cause})" if cause is not None else "is unreachable"
    refusal = getattr(cause, "refusal", None)
    busy = getattr(cause, "overload", None)
    if refusal:  # the server answered, and refused the connection: a setting to fix, said as such
        state = f"cannot be used: {refusal}"
    elif busy:  # the server answered, and had no room for the write: it passes, said as such
        state = f"is overloaded ({busy})"
    elif isinstance(cause, StoreError) and not isinstance(cause, StoreUnavailableError):
        state = f"refused a write ({cause})"  # one it cannot take (see Writer.write): kept all the same
    if isinstance(cause, KeyboardInterrupt):  # (Ctrl-C while a write was sent: see Writer.write)
        state = "had not answered a write when it was interrupted (KeyboardInterrupt)"
    return state


def logging_configured(logger: logging.Logger) -> bool:
    """Whether someone set up logging for *logger*: a handler on it or an
    ancestor, other than the one absl (MLMD's logging) puts on the root."""
    current: Optional[logging.Logger] = logger
    while current is not None:
        if any(type(handler).__name__ != "ABSLHandler" for handler in current.handlers):
            return True
        if not current.propagate:
            return False
        current = current.parent
    return False


def _interval() -> float:
    return _env.number("LINEAGE_SPOOL_RETRY_SECONDS", 0.5, above=True)


def abandon_all() -> None:
    """Stop every live spool's replay in this process (tests)."""
    for spool in list(_live):
        spool.abandon()


@atexit.register
def _at_exit() -> None:
    budget = _env.number("LINEAGE_EXIT_DRAIN_SECONDS", 3.0)
    for spool in list(_live):
        if spool._pid != os.getpid() or not spool.pending():
            continue
        if not spool.drain(budget):
            with spool._lock:
                # Only the writes the journal did not take are lost: the
                # others (journaled before it failed or after it worked
                # again, some dropped from memory since) wait in its file.
                lost = len(spool._unjournaled) + spool._lost
                left = len(spool) - len(spool._unjournaled) + spool._dropped - spool._lost
            if lost:
                log.error(
                    "%d lineage write(s) are lost: the store %s did not take them in time and the spool could not be "
                    "written (%s)",
                    lost, spool.url.redacted(), spool._journal_error,
                )
            if left and spool.path:
                log.warning(
                    "%d lineage write(s) are left in the spool %s; run `lineage sync` when the store %s answers",
                    left, spool.path, spool.url.redacted(),
                )


# --------------------------------------------------------------------------- journals on disk


def spool_files(home: Optional[str] = None) -> List[str]:
    folder = spool_dir(home)
    try:
        names = sorted(n for n in os.listdir(folder) if n.endswith(_SUFFIX))
    except FileNotFoundError:
        return []
    return [os.path.join(folder, n) for n in names]


@attrs.define
class Journal:
    path: str
    entries: List[Dict[str, Any]]
    acked: Set[int]
    partial: bool  # the last line is unterminated (a write cut short, or being written)
    unreadable: List[Tuple[int, Optional[int], str]]  # (line, seq if known, reason)
    cut: int = 0  # lines marked as cut short by an earlier sync
    lines: int = 0  # number of the last line (the unterminated one when partial)

    @property
    def todo(self) -> List[Dict[str, Any]]:
        return [e for e in self.entries if e["seq"] not in self.acked]


def where(line: int, seq: Optional[int]) -> str:
    """How a message names a journal line: ``entry 5 (line 5)`` or ``line 11``."""
    return f"entry {seq} (line {line})" if seq is not None else f"line {line}"


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if name == "Error":  # binascii.Error and the like: say whose
        name = f"{type(exc).__module__}.{name}"
    return f"{name}: {exc}" if str(exc) else name


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def read_journal(path: str) -> Journal:
    """Read complete lines only: a line being written (or cut by a crash) is left out.

    Complete lines that cannot be read are listed in ``unreadable`` (never
    dropped silently); entries are kept only when their write decodes (the
    decoded write is their ``"pending"``).
    """
    from lineage.store._writer import PendingContexts, PendingWrite

    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    partial = bool(lines[-1])
    entries: List[Dict[str, Any]] = []
    acked: Set[int] = set()
    cuts: Set[int] = set()
    bad: List[Tuple[int, Optional[int], str]] = []
    for number, raw in enumerate(lines[:-1], 1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError alike
            bad.append((number, None, f"not a JSON line ({exc})"))
            continue
        if not isinstance(record, dict):
            bad.append((number, None, f"not a spool record: {_show(record)}"))
        elif "ack" in record:
            if _is_int(record["ack"]):
                acked.add(record["ack"])
            else:
                bad.append((number, None, f"ack is not a sequence number: {_show(record['ack'])}"))
        elif "cut" in record:
            if _is_int(record["cut"]):
                cuts.add(record["cut"])
            else:
                bad.append((number, None, f"cut is not a line number: {_show(record['cut'])}"))
        elif "seq" in record:
            seq = record["seq"]
            if not _is_int(seq):
                bad.append((number, None, f"seq is not a sequence number: {_show(seq)}"))
            elif not isinstance(record.get("write"), dict) and not isinstance(record.get("contexts"), list):
                bad.append((number, seq, "no write in the entry"))
            else:
                kind = PendingWrite if isinstance(record.get("write"), dict) else PendingContexts
                try:
                    # decoded once, replayed as is
                    record["pending"] = kind.from_json(record[kind.JOURNAL_KEY])
                except Exception as exc:  # any way a write fails to decode makes it unreadable
                    bad.append((number, seq, f"the write does not decode ({_reason(exc)})"))
                else:
                    entries.append(record)
        else:
            bad.append((number, None, f"not a spool record (no seq or ack): {_show(record)}"))
    cut = sum(1 for number, _, _ in bad if number in cuts)
    # A line marked cut was a crash's unterminated last line; an unreadable
    # entry whose seq was acknowledged has been replayed: neither is left.
    unreadable = [b for b in bad if b[0] not in cuts and b[1] not in acked]
    entries.sort(key=lambda e: e["seq"])
    return Journal(
        path=path, entries=entries, acked=acked, partial=partial, unreadable=unreadable, cut=cut, lines=len(lines),
    )


def _try_lock(path: str) -> Optional[int]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def _append(fd: int, journal: Journal, record: Dict[str, Any]) -> None:
    """Append one line to a journal this process holds locked.

    An unterminated last line is a write cut short by a crash (its writer is
    gone: we hold the lock). It is ended first and marked cut, in the same
    write, so the record is never glued to it.
    """
    data = (json.dumps(record) + "\n").encode("utf-8")
    if journal.partial:
        data = b"\n" + (json.dumps({"cut": journal.lines}) + "\n").encode("utf-8") + data
        journal.partial = False
        journal.cut += 1
    os.write(fd, data)


@attrs.define
class SyncReport:
    """What ``lineage sync`` did."""

    written: int = 0
    present: int = 0
    failed: List[Tuple[str, int, str]] = attrs.Factory(list)  # (file, seq, reason)
    busy: List[str] = attrs.Factory(list)  # files held by a live process
    # (file, store, "does not answer", "is overloaded (<its answer>)" or
    # "cannot be used: <why the server refused the connection>")
    unreachable: List[Tuple[str, str, str]] = attrs.Factory(list)
    files_done: int = 0
    partial_lines: int = 0
    other_stores: int = 0  # writes left for other stores than the one asked for
    unreadable: List[Tuple[str, str, str]] = attrs.Factory(list)  # (file, "entry 5 (line 5)" or "line 11" or "", reason)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreachable and not self.unreadable


def sync(
    store: Optional[str] = None,
    home: Optional[str] = None,
    progress: Optional[Callable[[int, int], None]] = None,
    into: Optional[str] = None,
) -> SyncReport:
    """Replay the spool files under *home*, in order, idempotently.

    Unreadable lines and entries are reported and left in their file (which is
    then kept); every other entry, of that file and of the others, is replayed.

    Args:
        store: Replay only the writes spooled for this store URL (however
            spelled); the others stay in the spool. Default: all of them,
            each into the store it was spooled for.
        home: ``LINEAGE_HOME`` to read spools from.
        progress: Called as ``progress(done, total)`` after each entry.
        into: Replay the writes into this store URL instead of the one
            they were spooled for (a store that moved). Writes for several
            stores are never merged into one: choose one with *store*.

    Raises:
        InvalidValueError: *into* without *store* while writes wait for
            more than one store (nothing is replayed).
    """
    from lineage.store import connect, parse_store_url

    report = SyncReport()
    only = parse_store_url(store) if store is not None else None
    override = parse_store_url(into) if into is not None else None
    journals: List[Tuple[Journal, int]] = []
    for path in spool_files(home):
        try:
            fd = _try_lock(path)
        except FileNotFoundError:  # replayed and removed by another sync meanwhile
            continue
        except OSError as exc:
            report.unreadable.append((path, "", f"cannot be opened for replay ({_reason(exc)})"))
            continue
        if fd is None:
            report.busy.append(path)
            continue
        try:
            if os.fstat(fd).st_nlink == 0:  # removed by another sync before we took the lock
                os.close(fd)
                continue
            journal = read_journal(path)
        except OSError as exc:
            os.close(fd)
            report.unreadable.append((path, "", _reason(exc)))
            continue
        report.partial_lines += int(journal.partial) + journal.cut
        report.unreadable.extend((path, where(line, seq), reason) for line, seq, reason in journal.unreadable)
        journals.append((journal, fd))
    if override is not None and only is None:
        # (a store that cannot be read back is no other store: --into says where)
        entries = [entry for journal, _ in journals for entry in journal.todo]
        waiting = [name for name in _stores(entries) if not name.startswith("<")]
        if len(waiting) > 1:
            for _, fd in journals:
                os.close(fd)
            # Named as `lineage sync` (this function's caller) spells it: the
            # user typed --into, not into= (Python's name for it).
            raise InvalidValueError(
                f"--into {override.redacted()!r}: writes wait for {len(waiting)} stores ({', '.join(waiting)}); "
                "replay one store's writes at a time (lineage sync --store URL --into URL)"
            )
    total = sum(1 for journal, _ in journals for entry in journal.todo if only is None or _for_store(entry, only))
    done = 0
    for journal, fd in journals:
        try:
            stuck = False
            for entry in journal.todo:
                seq = entry["seq"]
                pending = entry["pending"]
                try:
                    url = url_from_json(entry["store"])
                except Exception as exc:  # read_journal decoded the write; the store is read only here
                    if override is None or only is not None:
                        report.unreadable.append((journal.path, f"entry {seq}", _reason(exc)))
                        continue
                    url = override  # spooled for a store that cannot be read back: --into says where
                if only is not None and not url.same_store(only):
                    report.other_stores += 1  # left in the spool, for a sync of its own store
                    continue
                # A SQLite store whose file is gone (moved away) is not made
                # anew, empty, to take the writes (and the spool deleted):
                # --into says where they go. A file that is there, and a
                # database server's store, are opened as the write would have.
                gone = override is None and url.scheme == "sqlite" and not os.path.exists(url.path or "")
                if gone:
                    url = attrs.evolve(url, create=False)
                url = override or url
                try:
                    outcome = connect(url).writer.submit(pending, replay=True)
                except StoreUnavailableError as exc:
                    state = "does not answer"
                    if exc.refusal:
                        state = f"cannot be used: {exc.refusal}"
                    elif exc.overload:  # it answered: RESOURCE_EXHAUSTED (its call limit, a quota)
                        state = f"is overloaded ({exc.overload})"
                    report.unreachable.append((journal.path, url.redacted(), state))
                    stuck = True
                    break
                except Exception as exc:  # the store refuses it: keep it, report why, go on
                    reason = _reason(exc)
                    if gone:
                        reason += f"; to write them to another store: lineage sync --store {url.redacted()} --into URL"
                    report.failed.append((journal.path, seq, reason))
                    continue
                if outcome == "present":
                    report.present += 1
                else:
                    report.written += 1
                _append(fd, journal, {"ack": seq})
                journal.acked.add(seq)
                done += 1
                if progress is not None:
                    progress(done, total)
            if not stuck and not journal.todo and not journal.unreadable:
                os.unlink(journal.path)
                report.files_done += 1
        finally:
            os.close(fd)
    return report


def _for_store(entry: Dict[str, Any], store: StoreURL) -> bool:
    try:
        return url_from_json(entry["store"]).same_store(store)
    except Exception:  # unreadable: reported when replayed
        return False


def _stores(entries: List[Dict[str, Any]], besides: Optional[StoreURL] = None) -> List[str]:
    """The stores *entries* wait for (one name per store, however spelled),
    leaving out *besides*."""
    names: Dict[Any, str] = {}
    for entry in entries:
        try:
            url = url_from_json(entry["store"])
        except Exception as exc:  # reported, not raised: status never fails on a spool
            reason = f"<unreadable store: {_reason(exc)}>"
            names[reason] = reason
            continue
        if besides is None or not url.same_store(besides):
            names.setdefault(url._identity(), url.redacted())
    return sorted(set(names.values()))


def status(home: Optional[str] = None, store: Optional[StoreURL] = None) -> Iterator[Dict[str, Any]]:
    """One dict per spool file: entries left, oldest, size, stores, busy,
    unreadable lines; ``other_stores``: the stores other than *store* its
    entries wait for."""
    for path in spool_files(home):
        try:
            journal = read_journal(path)
            size = os.path.getsize(path)
        except FileNotFoundError:  # replayed and removed meanwhile
            continue
        except OSError as exc:
            yield {
                "path": path, "entries": 0, "oldest": None, "size": None, "stores": [], "other_stores": [], "busy": False,
                "partial": False, "unreadable": [{"line": None, "seq": None, "reason": _reason(exc)}],
            }
            continue
        todo = journal.todo
        try:
            fd = _try_lock(path)
        except OSError:
            fd = -1  # cannot be opened for writing: not held by a process we know of
        if fd is not None and fd >= 0:
            os.close(fd)
        yield {
            "path": path,
            "entries": len(todo),
            "oldest": todo[0].get("time") if todo else None,
            "size": size,
            "stores": _stores(todo),
            "other_stores": _stores(todo, besides=store),
            "busy": fd is None,
            "partial": journal.partial,
            "unreadable": [{"line": line, "seq": seq, "reason": reason} for line, seq, reason in journal.unreadable],
        }
