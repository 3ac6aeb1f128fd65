"""Content digests of local artifacts: SHA-256 of a file's bytes, or of a
directory's files in a stable order.

A digest makes a file whose bytes changed under the same uri, name and
version a new artifact (it is part of the deduplication key), so a model
trained on new bytes is never linked to the old ones. A cache keyed by
(path, size, mtime) avoids rehashing unchanged large files. The scope is
recorded honestly: ``full``; ``stat`` (over LINEAGE_HASH_MAX_BYTES, 1 GiB:
names, sizes and modification times); or ``skipped`` (hashing off, file
missing, unreadable, written while read, a folder of over 10,000 files)
with the reason.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat as _stat
import threading
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple

import attrs

from lineage import _env
from lineage._fork import renew_after_fork

__all__ = ["Digest", "local_path", "may_be_missing_path", "of_output", "of_path", "of_record", "set_enabled"]

_CHUNK = 1 << 20
def env_default() -> bool:
    """Hashing is on unless ``LINEAGE_HASH`` says 0/false/no/off."""
    return _env.flag("LINEAGE_HASH", True)


_enabled = env_default()
# (path, size, mtime, inode, ctime): a file replaced by one of the same size
# and modification time (cp -p, rsync -t, tar) has another inode or ctime.
_cache: Dict[Tuple[str, int, int, int, int], str] = {}
_cache_lock = threading.Lock()
renew_after_fork(globals(), "_cache_lock")

_CACHE_LIMIT = 100_000


def set_enabled(enabled: bool) -> None:
    """Turn content hashing on or off for this process."""
    global _enabled
    _enabled = enabled


def enabled() -> bool:
    return _enabled


@attrs.frozen
class Digest:
    """The digest of an artifact's content, when it is a local file or folder."""

    digest: Optional[str] = None  # "sha256:<hex>"
    size: Optional[int] = None
    scope: Optional[str] = None  # "full" | "stat" | "skipped"; None: not a local artifact
    reason: Optional[str] = None

    def properties(self) -> Dict[str, Any]:
        """Custom properties to store on the artifact."""
        out: Dict[str, Any] = {}
        if self.scope is None:
            return out
        out["lineage.digest_scope"] = self.scope
        if self.digest is not None:
            out["lineage.digest"] = self.digest
        if self.size is not None:
            out["lineage.size"] = self.size
        if self.reason is not None:
            out["lineage.digest_reason"] = self.reason
        return out


NONE = Digest()

#: The custom properties :meth:`Digest.properties` writes, in the order the
#: read tools show them (``lineage ls --json``, ``LineageGraph.to_dict()``).
PROPERTY_NAMES = ("lineage.digest", "lineage.size", "lineage.digest_scope", "lineage.digest_reason")


_WINDOWS_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
#: A uri with a scheme other than file: (s3://, gs://, http://), which never
#: names a local file: told at once, where _local_path's tests in their
#: order cost several calls for the commonest uri of all. Two characters at
#: least (C: is a Windows drive); ASCII only, without re.I (under which
#: [a-z] takes the Kelvin sign and the long s, which _SCHEME does not).
_REMOTE = re.compile(r"(?![Ff][Ii][Ll][Ee]:)[A-Za-z][A-Za-z0-9+.-]+:")

#: Past this many bytes a file or folder gets a quick digest (see of_path).
MAX_BYTES = 1 << 30
#: Past this many files a folder is not digested at all.
MAX_FILES = 10_000


def _max_bytes() -> int:
    return int(_env.number("LINEAGE_HASH_MAX_BYTES", MAX_BYTES, integer=True))


def local_path(uri: str) -> Optional[str]:
    """The local file path a uri names, or None for remote URIs (and for
    names no file can have: with a NUL, which the OS calls refuse).

    A relative path without ``./`` (``data/train.csv``) is local when it
    names something on disk; otherwise it is taken for a name (a table, a
    key) and carries no digest.
    """
    return _local_path(uri) or None


def _local_path(uri: str) -> Optional[str]:
    """local_path's answer, but "" for a uri that never names a local file
    (a scheme, a NUL) where None is a name not on disk now (it may be a
    relative path later)."""
    if _REMOTE.match(uri):
        return ""  # what _uri_path answers for it, in one step (see _REMOTE)
    return _uri_path(uri)


def _uri_path(uri: str) -> Optional[str]:
    """_local_path's answer, by each kind of uri in turn."""
    if uri.startswith("file:") or uri[:5].lower() == "file:":  # a scheme is read in any case: FILE:///x
        parsed = urllib.parse.urlsplit(uri)
        if parsed.netloc.lower() not in ("", "localhost"):
            return ""
        path = urllib.parse.unquote(parsed.path, errors="surrogateescape")  # %E9: the byte, as os.fsdecode has it
        return path if path and "\x00" not in path else ""
    if uri.startswith(("/", "./", "../", "~")) or (uri[1:2] == ":" and _WINDOWS_DRIVE.match(uri)):
        if "\x00" in uri:
            return ""
        return os.path.abspath(os.path.expanduser(uri))
    if not uri or "\x00" in uri or _SCHEME.match(uri):
        return ""  # s3://, gs://, http://, ...
    return os.path.abspath(uri) if os.path.exists(uri) else None  # else a table name, ...


def may_be_missing_path(uri: str) -> bool:
    """Whether *uri*, which :func:`local_path` took for a name, may be a
    relative path that is not on disk here: no scheme, and a folder part
    (models/m.pt, where another folder or host has it; not a table name)."""
    return ("/" in uri or "\\" in uri) and "\x00" not in uri and not _SCHEME.match(uri)


class _NotRegular(OSError):
    """A FIFO, socket or device: reading it may block or never end."""


class _Changed(OSError):
    """A file written while it was read: its digest would be of neither version."""


def _file_sha256(path: str, st: os.stat_result) -> str:
    if not _stat.S_ISREG(st.st_mode):
        raise _NotRegular(0, "not a regular file")
    key = (path, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    digest = hashlib.sha256()
    # O_NONBLOCK: a file replaced by a FIFO since it was stat'ed must not block the open.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with open(fd, "rb") as handle:
        if not _stat.S_ISREG(os.fstat(fd).st_mode):
            raise _NotRegular(0, "not a regular file")
        left = st.st_size  # no more: a file written meanwhile is not chased
        while left > 0:
            chunk = handle.read(min(_CHUNK, left))
            if not chunk:
                break
            digest.update(chunk)
            left -= len(chunk)
        after = os.fstat(fd)
        if left or handle.read(1) or (after.st_mtime_ns, after.st_ctime_ns) != (st.st_mtime_ns, st.st_ctime_ns):
            raise _Changed(0, "changed while read")
    hexdigest = digest.hexdigest()
    with _cache_lock:
        if len(_cache) >= _CACHE_LIMIT:
            _cache.clear()
        _cache[key] = hexdigest
    return hexdigest


def of_path(path: str) -> Digest:
    """Digest a local file or directory."""
    return _of_path(path, None) or NONE  # (never None without began_ns)


def _of_path(path: str, began_ns: Optional[Callable[[], int]]) -> Optional[Digest]:
    """Digest a local file or directory; given *began_ns*, None for one not
    modified since then (nor a folder's files), before any is read."""
    if not _enabled:
        return Digest(scope="skipped", reason="hashing turned off")
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return Digest(scope="skipped", reason="missing")
    except OSError as exc:
        return Digest(scope="skipped", reason=f"unreadable: {exc.strerror}")
    limit = _max_bytes()
    try:
        if not os.path.isdir(path):
            if began_ns is not None and stat.st_mtime_ns < began_ns():
                return None
            if stat.st_size > limit:
                return _quick([("", stat, False)], stat.st_size, limit)
            return Digest(digest="sha256:" + _file_sha256(path, stat), size=stat.st_size, scope="full")
        entries: List[Tuple[str, os.stat_result, bool]] = []  # (relative path, stat, a broken link)
        total = 0
        seen_dirs = {(stat.st_dev, stat.st_ino)}
        for root, dirs, files in os.walk(path, followlinks=True, onerror=_raise):  # a folder it cannot list: skipped
            # A linked folder is followed (its content is the model's), once:
            # a link back up (a loop) or to a folder already walked is kept
            # as a link, its target as text.
            kept = []
            for name in sorted(dirs):
                try:
                    dst = os.stat(os.path.join(root, name))
                except OSError:
                    files.append(name)
                    continue
                if (dst.st_dev, dst.st_ino) in seen_dirs:
                    files.append(name)
                    continue
                seen_dirs.add((dst.st_dev, dst.st_ino))
                kept.append(name)
            dirs[:] = kept
            for name in sorted(files):
                full = os.path.join(root, name)
                try:
                    st, broken = os.stat(full), False
                except OSError:  # a dangling or looping symbolic link: the link itself
                    st, broken = os.lstat(full), True
                if not broken and not _stat.S_ISREG(st.st_mode) and os.path.islink(full):
                    st, broken = os.lstat(full), True  # a link to a folder walked already, a FIFO...: its target
                entries.append((os.path.relpath(full, path).replace(os.sep, "/"), st, broken))
                total += st.st_size
                if len(entries) > MAX_FILES:
                    return Digest(scope="skipped", reason=f"more than {MAX_FILES:,} files")
        # (A file rewritten in place leaves its folder's time as it was: theirs are looked at.)
        if began_ns is not None and max([stat.st_mtime_ns] + [st.st_mtime_ns for _, st, _ in entries]) < began_ns():
            return None
        if total > limit:
            return _quick(entries, total, limit)
        combined = hashlib.sha256()
        for rel, st, broken in entries:
            combined.update(rel.encode("utf-8", "surrogateescape") + b"\0")
            full = os.path.join(path, rel)
            if broken:  # the link's target, as text
                content = hashlib.sha256(os.readlink(full).encode("utf-8", "surrogateescape")).hexdigest()
            elif not _stat.S_ISREG(st.st_mode):  # a FIFO, socket or device: its kind, never read
                content = hashlib.sha256(f"special {_stat.S_IFMT(st.st_mode)}".encode("ascii")).hexdigest()
            else:
                content = _file_sha256(full, st)
            combined.update(content.encode("ascii") + b"\n")
        return Digest(digest="sha256:" + combined.hexdigest(), size=total, scope="full")
    except _NotRegular:
        return Digest(scope="skipped", reason="not a regular file")
    except _Changed:
        return Digest(scope="skipped", reason="changed while read")
    except OSError as exc:
        return Digest(scope="skipped", reason=f"unreadable: {exc.strerror}")


def _raise(error: OSError) -> None:
    raise error


def _quick(entries: List[Tuple[str, os.stat_result, bool]], total: int, limit: int) -> Digest:
    """Scope ``stat``: SHA-256 of each file's name, size and modification
    time, for content too large to read on every call (a rewrite changes
    the modification time, so it is still a new artifact)."""
    combined = hashlib.sha256()
    for rel, st, _ in entries:
        combined.update(f"{rel}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return Digest(
        digest="sha256:" + combined.hexdigest(),
        size=total,
        scope="stat",
        reason=f"over {limit:,} bytes (LINEAGE_HASH_MAX_BYTES): names, sizes and modification times",
    )


def of_record(record: Any) -> Digest:
    """Digest of a record's content when its uri is a local path."""
    path = _local_path(record.uri)
    if not path:
        return NONE
    return of_path(path)


def of_output(record: Any, began_ns: Callable[[], int]) -> Optional[Digest]:
    """Digest of an output's content when it is logged; None to take it
    when the execution is written (its end), as before.

    Taken at the end only, a checkpoint rewritten every epoch and logged
    each time as a new version gave every version the last bytes' digest.
    Taken now when what is on disk is this execution's: written since it
    began (*began_ns*: ``time.time_ns()`` then, asked only of a local path;
    for a folder, the newest modification time of its files). A path
    missing now (logged first, written after), a name that may be a
    relative path by then, or a file from before (an earlier run's, which
    this one is about to replace: digested now, the new model was
    deduplicated into that run's artifact) waits for the end, as does one
    that could not be digested now (written while read, say).
    """
    if not _enabled:
        return None  # the end's says so, at no cost here
    path = _local_path(record.uri)
    if not path:
        return None if path is None else NONE  # s3://...: no digest, at the end either
    digest = _of_path(path, began_ns)
    return None if digest is None or digest.scope == "skipped" else digest
