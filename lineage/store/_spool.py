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
import warnings
import weakref
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Set, Tuple

import attrs

from lineage.errors import LineageError, LineageWarning, StoreUnavailableError
from lineage.store._url import StoreURL, default_home

__all__ = ["Spool", "SyncReport", "spool_dir", "spool_files", "read_journal", "status", "sync"]

log = logging.getLogger("lineage.spool")

_SUFFIX = ".spool"


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
        self._queue: Deque[Tuple[int, Any]] = deque()
        self._failed: Set[int] = set()
        self._file: Any = None
        self._seq = 0
        self._pid = os.getpid()
        self._drainer: Optional[threading.Thread] = None
        self._warned = False
        self._abandoned = False
        _live.add(self)

    def abandon(self) -> None:
        """Stop replaying and release the journal (it stays on disk for `lineage sync`)."""
        with self._lock:
            self._abandoned = True
            self._queue.clear()
            if self._file is not None:
                self._file.close()
                self._file = None

    def _check_fork(self) -> None:
        if self._pid != os.getpid():  # a forked child starts with an empty spool
            self._queue, self._failed, self._file, self.path = deque(), set(), None, None
            self._seq, self._drainer, self._warned, self._pid = 0, None, False, os.getpid()

    def pending(self) -> bool:
        """True while writes wait to be replayed."""
        if self._pid != os.getpid():
            with self._lock:
                self._check_fork()
        return bool(self._queue)

    def __len__(self) -> int:
        return len(self._queue)

    def _open(self) -> None:
        folder = spool_dir()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S")
        name = f"{stamp}-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}{_SUFFIX}"
        self.path = os.path.join(folder, name)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._file = os.fdopen(fd, "a", encoding="utf-8")

    def _append_line(self, record: Dict[str, Any], sync: bool) -> None:
        self._file.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n")
        self._file.flush()
        if sync:
            os.fsync(self._file.fileno())

    def append(self, pending: Any, cause: Optional[BaseException] = None) -> None:
        """Journal a write durably and queue it for replay."""
        with self._lock:
            self._check_fork()
            if self._file is None:
                self._open()
            self._seq += 1
            self._append_line(
                {"seq": self._seq, "time": _now(), "pid": os.getpid(), "store": url_to_json(self.url), "write": pending.to_json()},
                sync=True,
            )
            self._queue.append((self._seq, pending))
            first, self._warned = not self._warned, True
            if self._drainer is None or not self._drainer.is_alive():
                self._drainer = threading.Thread(target=self._drain_loop, name="lineage-spool-drainer", daemon=True)
                self._drainer.start()
        if first:
            reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
            message = (
                f"lineage store {self.url.redacted()} is unreachable{reason}; writes are kept in the spool "
                f"{self.path} and retried in the background (`lineage sync` replays what is left)"
            )
            log.warning(message)
            warnings.warn(message, LineageWarning, stacklevel=4)

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
                    return
                seq, pending = self._queue[0]
            try:
                self.writer.submit(pending, replay=True)
            except StoreUnavailableError:
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            except Exception as exc:  # the store refuses it: keep it for `lineage sync` to report
                log.error("a spooled write cannot be replayed (%s: %s); it stays in %s", type(exc).__name__, exc, self.path)
                with self._lock:
                    self._failed.add(seq)
                    self._queue.popleft()
                continue
            delay = _interval()
            with self._lock:
                self._queue.popleft()
                if self._file is not None:
                    self._append_line({"ack": seq}, sync=False)

    def _finish_file(self) -> None:
        # Called with the lock held once the queue is empty.
        if self._file is None:
            return
        if not self._failed and self.path:
            try:
                os.unlink(self.path)
            except OSError:
                pass
        self._file.close()
        self._file, self.path, self._failed = None, None, set()

    def drain(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for the queue to empty."""
        deadline = time.monotonic() + timeout
        while self.pending() and time.monotonic() < deadline:
            time.sleep(0.05)
        return not self.pending()


def _interval() -> float:
    try:
        return float(os.environ.get("LINEAGE_SPOOL_RETRY_SECONDS", "") or 0.5)
    except ValueError:
        return 0.5


def abandon_all() -> None:
    """Stop every live spool's replay in this process (tests)."""
    for spool in list(_live):
        spool.abandon()


@atexit.register
def _at_exit() -> None:
    try:
        budget = float(os.environ.get("LINEAGE_EXIT_DRAIN_SECONDS", "") or 3.0)
    except ValueError:
        budget = 3.0
    for spool in list(_live):
        if spool._pid != os.getpid() or not spool.pending():
            continue
        if not spool.drain(budget):
            log.warning(
                "%d lineage write(s) are left in the spool %s; run `lineage sync` when the store %s answers",
                len(spool), spool.path, spool.url.redacted(),
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
    partial: bool
    corrupt: int

    @property
    def todo(self) -> List[Dict[str, Any]]:
        return [e for e in self.entries if e["seq"] not in self.acked]


def read_journal(path: str) -> Journal:
    """Read complete lines only: a line being written (or cut by a crash) is left out."""
    with open(path, "rb") as handle:
        data = handle.read()
    lines = data.split(b"\n")
    partial = bool(lines and lines[-1])
    entries: List[Dict[str, Any]] = []
    acked: Set[int] = set()
    corrupt = 0
    for raw in lines[:-1]:
        if not raw.strip():
            continue
        try:
            record = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            corrupt += 1
            continue
        if "ack" in record:
            acked.add(int(record["ack"]))
        elif "seq" in record and "write" in record:
            entries.append(record)
    entries.sort(key=lambda e: e["seq"])
    return Journal(path=path, entries=entries, acked=acked, partial=partial, corrupt=corrupt)


def _try_lock(path: str) -> Optional[int]:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


@attrs.define
class SyncReport:
    """What ``lineage sync`` did."""

    written: int = 0
    present: int = 0
    failed: List[Tuple[str, int, str]] = attrs.Factory(list)  # (file, seq, reason)
    busy: List[str] = attrs.Factory(list)  # files held by a live process
    unreachable: List[Tuple[str, str]] = attrs.Factory(list)  # (file, store)
    files_done: int = 0
    partial_lines: int = 0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.unreachable


def sync(
    store: Optional[str] = None,
    home: Optional[str] = None,
    progress: Optional[Callable[[int, int], None]] = None,
) -> SyncReport:
    """Replay every spool file under *home*, in order, idempotently.

    Args:
        store: Replay into this store URL instead of the one each entry names.
        home: ``LINEAGE_HOME`` to read spools from.
        progress: Called as ``progress(done, total)`` after each entry.
    """
    from lineage.store import connect, parse_store_url
    from lineage.store._writer import PendingWrite

    report = SyncReport()
    override = parse_store_url(store) if store is not None else None
    journals: List[Tuple[Journal, int]] = []
    for path in spool_files(home):
        fd = _try_lock(path)
        if fd is None:
            report.busy.append(path)
            continue
        journal = read_journal(path)
        report.partial_lines += int(journal.partial) + journal.corrupt
        journals.append((journal, fd))
    total = sum(len(j.todo) for j, _ in journals)
    done = 0
    for journal, fd in journals:
        try:
            stuck = False
            for entry in journal.todo:
                url = override or url_from_json(entry["store"])
                writer = connect(url).writer
                try:
                    outcome = writer.submit(PendingWrite.from_json(entry["write"]), replay=True)
                except StoreUnavailableError:
                    report.unreachable.append((journal.path, url.redacted()))
                    stuck = True
                    break
                except (LineageError, KeyError, ValueError) as exc:
                    report.failed.append((journal.path, entry["seq"], f"{type(exc).__name__}: {exc}"))
                    continue
                if outcome == "present":
                    report.present += 1
                else:
                    report.written += 1
                os.write(fd, (json.dumps({"ack": entry["seq"]}) + "\n").encode("utf-8"))
                journal.acked.add(entry["seq"])
                done += 1
                if progress is not None:
                    progress(done, total)
            if not stuck and not journal.todo and not journal.partial:
                os.unlink(journal.path)
                report.files_done += 1
        finally:
            os.close(fd)
    return report


def status(home: Optional[str] = None) -> Iterator[Dict[str, Any]]:
    """One dict per spool file: entries left, oldest, size, store, busy."""
    for path in spool_files(home):
        journal = read_journal(path)
        todo = journal.todo
        fd = _try_lock(path)
        if fd is not None:
            os.close(fd)
        yield {
            "path": path,
            "entries": len(todo),
            "oldest": todo[0]["time"] if todo else None,
            "size": os.path.getsize(path),
            "stores": sorted({url_from_json(e["store"]).redacted() for e in todo}),
            "busy": fd is None,
            "partial": journal.partial,
        }
