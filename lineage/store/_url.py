"""Store URLs: parse them and turn them into MLMD connection configs.

==========================================  =====================================
URL                                          backend
==========================================  =====================================
(unset)                                      SQLite file ``$LINEAGE_HOME/lineage.db``
``sqlite:///relative.db``                    SQLite file, relative to the cwd
``sqlite:////abs/path.db``                   SQLite file, absolute path
``file:///abs/path.db``                      SQLite file, absolute path (RFC 8089)
``memory://``                                in-memory SQLite (one per store object)
``postgresql://user:pass@host:port/db``      PostgreSQL through MLMD
``mysql://user:pass@host:port/db``           MySQL / MariaDB through MLMD
``grpc://host:port``                         an MLMD gRPC service
``grpcs://host:port?root_certificates=F``    the same over TLS (``private_key=F``,
                                             ``certificate_chain=F``: file paths)
==========================================  =====================================
"""

from __future__ import annotations

import contextlib
import getpass
import ipaddress
import math
import os
import re
import sqlite3
import stat
import urllib.parse
from typing import Any, Dict, List, Optional, Tuple

import attrs
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage.errors import (
    InvalidStoreURLError,
    InvalidTypeError,
    InvalidValueError,
    StoreError,
    StoreUnavailableError,
    describe,
)

__all__ = ["StoreURL", "default_home", "parse_store_url"]

SCHEMES = ("sqlite", "memory", "postgresql", "mysql", "grpc", "grpcs")
_ALIASES = {"postgres": "postgresql", "mariadb": "mysql"}
_TLS_OPTIONS = ("root_certificates", "private_key", "certificate_chain")
_DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306, "grpc": 8080, "grpcs": 8080}

#: MLMD's own retry of aborted transactions sleeps for seconds; lineage
#: retries with short jittered backoff instead (see _backend.py).
_MLMD_RETRIES = 1
# How long preparing a new SQLite file waits for another process holding it.
_WAL_WAIT_SECONDS = 5.0
#: Deadline of each call to a gRPC store, unless the URL says ?timeout=.
GRPC_TIMEOUT_SECONDS = 10.0
#: The longest ?timeout= (about 31 years); gRPC's deadline overflows past ~5e9 s.
_MAX_GRPC_TIMEOUT = 1e9


def home_variable() -> str:
    """``LINEAGE_HOME`` as set ("" when it is not), white space around it
    dropped, as LINEAGE_STORE's: "/mnt/vol\n" (read from a file) made a
    folder of that name beside the volume, " " one in the working folder."""
    return os.environ.get("LINEAGE_HOME", "").strip()


def default_home() -> str:
    """The folder of the embedded store and the spool (``LINEAGE_HOME``)."""
    return os.path.expanduser(home_variable() or "~/.lineage")


@attrs.frozen
class StoreURL:
    """A parsed store URL."""

    scheme: str
    path: Optional[str] = None  # sqlite file path
    host: Optional[str] = None
    port: Optional[int] = None
    user: Optional[str] = None
    password: Optional[str] = attrs.field(default=None, repr=False)
    database: Optional[str] = None
    tls: Dict[str, bytes] = attrs.field(factory=dict, repr=False)
    options: Dict[str, str] = attrs.field(factory=dict)
    #: False to open only a store that exists (no SQLite file, no database
    #: made): for commands that only read, where a typo must not make one.
    create: bool = attrs.field(default=True, eq=False)

    @property
    def is_remote(self) -> bool:
        return self.scheme in ("grpc", "grpcs")

    @property
    def mangles_backslashes(self) -> bool:
        """True when the backend may fail on strings with a backslash.

        MLMD's PostgreSQL driver builds invalid SQL for them. Through gRPC
        the database is unknown from the URL: ``Backend.mangles_backslashes``
        probes the service once and this answer is only the safe default.
        """
        return self.scheme in ("postgresql", "grpc", "grpcs")

    def redacted(self) -> str:
        """The URL without its password, for logs and messages."""
        if self.scheme == "sqlite":
            # Printed URLs are pasted back (lineage status, lineage sync
            # --store): the path as parse_store_url reads it, a '%' escaped
            # (else "a%41.db" comes back as "aA.db"), and '?' and '#' too.
            return f"sqlite:///{_quote_path(self.path or '')}"
        if self.scheme == "memory":
            return "memory://"
        auth = ""
        if self.user:
            auth = urllib.parse.quote(self.user, safe="") + (":***" if self.password else "") + "@"
        db = f"/{urllib.parse.quote(self.database, safe='')}" if self.database else ""
        if self.options.get("socket"):
            return f"{self.scheme}://{auth}{db}?socket={urllib.parse.quote(self.options['socket'])}"
        # An IPv6 zone's '%' is written %25 (RFC 6874), so the URL reads back.
        return f"{self.scheme}://{auth}{(self._url_host() or '').replace('%', '%25')}:{self.port}{db}"

    def same_store(self, other: StoreURL) -> bool:
        """Whether two URLs name one store, however spelled: a relative or
        absolute SQLite path to one file, a host in another case; the
        password, TLS files and options do not change the store."""
        return self._identity() == other._identity()

    def _identity(self) -> Tuple[Any, ...]:
        if self.scheme == "sqlite":
            return ("sqlite", os.path.realpath(self.path or ""))
        if self.scheme == "memory":
            return ("memory",)
        where = self.options.get("socket") or (self.host or "").lower()
        return (self.scheme, where, self.port, self._login_user() or "", self.database or "")

    def _login_user(self) -> Optional[str]:
        """The user the connection logs in as: the URL's, else PostgreSQL's
        default (the login name; MLMD aborts the process on an empty user)
        and MySQL's (root)."""
        if self.user:
            return self.user
        return _login_name() if self.scheme == "postgresql" else "root" if self.scheme == "mysql" else None

    def _url_host(self) -> Optional[str]:
        """The host as a URL writes it: an IPv6 address in brackets (``[::1]``)."""
        return f"[{self.host}]" if self.host and ":" in self.host else self.host

    def connection_config(self) -> pb.ConnectionConfig | pb.MetadataStoreClientConfig:
        """Build the MLMD config for this URL (creating a SQLite file in WAL mode)."""
        if self.is_remote:
            # MLMD joins host and port with ":": an IPv6 address needs its brackets.
            client = pb.MetadataStoreClientConfig(host=self._url_host(), port=self.port)
            if self.tls:
                ssl = client.ssl_config
                # Same mapping as the Kubeflow SDK's Store.
                if "private_key" in self.tls:
                    ssl.client_key = self.tls["private_key"].decode("ascii")
                if "root_certificates" in self.tls:
                    ssl.custom_ca = self.tls["root_certificates"].decode("ascii")
                if "certificate_chain" in self.tls:
                    ssl.server_cert = self.tls["certificate_chain"].decode("ascii")
            # A deadline on every call: a service that takes the connection but
            # never answers would otherwise hold the caller forever.
            client.client_timeout_sec = float(self.options.get("timeout", GRPC_TIMEOUT_SECONDS))
            return client
        config = pb.ConnectionConfig()
        config.retry_options.max_num_retries = _MLMD_RETRIES
        if self.scheme == "memory":
            config.fake_database.SetInParent()
        elif self.scheme == "sqlite":
            assert self.path is not None
            if self.create:
                _prepare_sqlite_file(self.path)
            elif not os.path.isfile(self.path):
                raise StoreError(f"no store at {self.redacted()}: the file does not exist")
            else:
                try:
                    is_mlmd = _is_mlmd_file(self.path)
                except sqlite3.Error as exc:
                    # Locked past the wait by a writer, not readable by this user:
                    # maybe a store all the same, not "no store" (status said so).
                    raise StoreUnavailableError(f"cannot read {self.redacted()}: {exc}") from exc
                if not is_mlmd:
                    # MLMD would install its tables in it: a reading command must not.
                    raise StoreError(f"no store at {self.redacted()}: the file is not an MLMD store")
            config.sqlite.filename_uri = self.path
            config.sqlite.connection_mode = (
                pb.SqliteMetadataSourceConfig.READWRITE_OPENCREATE if self.create else pb.SqliteMetadataSourceConfig.READWRITE
            )
        elif self.scheme == "postgresql":
            pg = config.postgresql
            pg.host = self.host or "127.0.0.1"
            pg.port = str(self.port)
            pg.user = self._login_user()
            if self.password:
                pg.password = self.password
            pg.dbname = self.database or "mlmd"
            pg.skip_db_creation = not self.create
        elif self.scheme == "mysql":
            my = config.mysql
            if "socket" in self.options:
                # Exactly one of host and socket: with both, MLMD aborts the
                # whole process (a failed CHECK, SIGABRT).
                my.socket = self.options["socket"]
            else:
                my.host = self.host or "127.0.0.1"
                my.port = int(self.port or 3306)
            my.user = self._login_user()
            if self.password:
                my.password = self.password
            my.database = self.database or "mlmd"
            my.skip_db_creation = not self.create
        return config


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no user name in the environment or the password database
        return "postgres"


def _is_mlmd_file(path: str) -> bool:
    """Whether a SQLite file holds MLMD's tables (read-only check).

    Raises:
        sqlite3.Error: the file could not be read (locked by a writer past
            the wait, not readable by this user): that says nothing of what
            it holds.
    """
    try:
        uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=_WAL_WAIT_SECONDS)) as conn:
            return conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'MLMDEnv'").fetchone() is not None
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", None) == "SQLITE_NOTADB":
            return False  # not a database at all
        raise


def _prepare_sqlite_file(path: str) -> None:
    """Create the folder and, for a new file, switch it to WAL journal mode.

    WAL persists in the file and roughly halves the cost of a write; it also
    lets readers run while a writer commits.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    if os.path.exists(path) and os.path.getsize(path) > 0:
        return
    try:
        # Processes opening a fresh file at once race here; the busy timeout
        # waits for the one switching it. WAL only speeds writes up, so a
        # file still locked after that is used as it is.
        conn = sqlite3.connect(path, timeout=_WAL_WAIT_SECONDS)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
        finally:
            conn.close()
    except sqlite3.OperationalError:
        pass


#: The URL forms every URL error lists: lineage's own text (its "pass" is
#: no one's password, and is not hidden as the user's are).
SUPPORTED = (
    "Supported: sqlite:///path.db, memory://, "
    "postgresql://user:pass@host:port/db, mysql://user:pass@host:port/db, "
    "grpc://host:port, grpcs://host:port?root_certificates=FILE, file:///abs/path.db"
)


def _bad(url: str, why: str) -> InvalidStoreURLError:
    url = _redact(url)  # an error message ends up in logs: never the password
    return InvalidStoreURLError(f"invalid store URL {url!r}: {why}. {SUPPORTED}")


# The password of a URL's authority (scheme://user:PASSWORD@host).
# Up to the last "@": a password with a "/", "?" or "#" not percent-encoded
# (an invalid URL, whose error message quotes it) stays hidden too.
_PASSWORD = re.compile(r"^([^:/?#]*://[^/?#@:]*:).*(@)", re.DOTALL)  # DOTALL: a password read from a file ends with a newline


# An inline private key (grpcs://host?private_key=-----BEGIN...): every
# error message about the URL quoted it.
_PRIVATE_KEY = re.compile(r"([?&]private_key=)(?=(?:-|%2d){5}begin)[^&#]*", re.IGNORECASE)


# A password given as an option (postgresql://u@host/db?password=..., as
# libpq's URIs take it; MySQL's passwd=): refused as an unknown option, by
# an error that quoted the URL with the password in it. A value runs past
# a "#" (no store URL has a fragment: it is a piece of the password).
_QUERY_OPTION = re.compile(r"([?&])([^?&#=]*)=([^&]*)")
# Also other secrets a URL may carry as an option (?token=, ?api_key=, ...).
_PASSWORD_OPTION = re.compile(
    r"[\w.-]*(?:pass(?:word|wd|phrase)?|pwd|token|secret|api[_-]?key|access[_-]?key|credentials?|auth)[\w.-]*",
    re.IGNORECASE,
)


def _is_password_option(match: re.Match[str]) -> bool:
    """Whether an option (a match of _QUERY_OPTION) gives a password or another secret."""
    return bool(match.group(3)) and _PASSWORD_OPTION.fullmatch(urllib.parse.unquote_plus(match.group(2))) is not None


def _hide_password_option(match: re.Match[str]) -> str:
    return f"{match.group(1)}{match.group(2)}=***" if _is_password_option(match) else match.group(0)


def _password_spans(url: str) -> List[Tuple[int, int]]:
    """Where *url*'s passwords are (the authority's, options'), found in the
    URL as written and overlapping ones joined: an option's password holding
    an '@' (host:5432/db?password=p@ss) ended the authority's pattern there,
    and hidden one after the other, the password's end was shown."""
    spans = [option.span(3) for option in _QUERY_OPTION.finditer(url) if _is_password_option(option)]
    found = _PASSWORD.match(url)
    if found:
        spans.append((found.end(1), found.start(2)))
    joined: List[Tuple[int, int]] = []
    for start, end in sorted(spans):
        if joined and start <= joined[-1][1]:
            joined[-1] = (joined[-1][0], max(joined[-1][1], end))
        else:
            joined.append((start, end))
    return joined


def _redact(url: str) -> str:
    """*url* with its password (in the authority or as an option) and an
    inline private key, if any, replaced by ``***`` (as ``StoreURL.redacted``)."""
    shown, done = "", 0
    for start, end in _password_spans(url):
        shown, done = shown + url[done:start] + "***", end
    return _PRIVATE_KEY.sub(r"\1***", shown + url[done:])


def _quote_path(path: str) -> str:
    """A file path as a sqlite:// URL writes it: only what
    :func:`_sqlite_path` would read otherwise is escaped, and white space
    at its end (a URL ending with it is refused)."""
    quoted = path.replace("%", "%25").replace("?", "%3F").replace("#", "%23")
    kept = quoted.rstrip()
    return kept + urllib.parse.quote(quoted[len(kept):])


def _check_chars(url: str, text: str, what: str) -> None:
    """Refuse a NUL or a lone surrogate in *text* (the URL or a decoded part
    of it): no file name, database or server can hold one, and they would
    only fail at the first use of the store."""
    problem = _bad_char(text)
    if problem:
        shown = _redact(url)
        if text == url and not _bad_char(shown):
            what = "the password (hidden here)"
        raise _bad(url, f"{what} contains {problem}")


def _bad_char(text: str) -> Optional[str]:
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate (not valid Unicode text)"
    return None


def parse_store_url(url: Optional[str]) -> StoreURL:
    """Parse a store URL; ``None`` or ``""`` means the embedded default store.

    Raises:
        InvalidTypeError: *url* is not a string.
        InvalidStoreURLError: unknown scheme or a missing part.
    """
    if url is None or url == "":
        home = default_home()
        if os.path.exists(home) and not os.path.isdir(home):
            # Every write failed on "File exists: '...'", naming no variable.
            where = "the LINEAGE_HOME environment variable" if home_variable() else "lineage's home"
            raise InvalidValueError(
                f"{where} must be a folder (the embedded store is a file in it), got the file {home!r}; "
                "set LINEAGE_HOME to a folder, or LINEAGE_STORE to a store URL"
            )
        return StoreURL(scheme="sqlite", path=os.path.join(home, "lineage.db"))
    if not isinstance(url, str):
        raise InvalidTypeError(f"store URL must be a str, got {describe(url)}")
    _check_chars(url, url, "the URL")
    if url != url.strip():
        # A copy-paste's stray space (LINEAGE_STORE="sqlite:///x.db "): a file
        # named "x.db " was made, and the records went there.
        raise _bad(url, "it starts or ends with white space")
    if "://" not in url:
        raise _bad(url, "missing '<scheme>://'")
    scheme_text, rest = url.split("://", 1)
    if scheme_text.lower() == "file":
        # RFC 8089: file:///abs/path (an empty or "localhost" authority) is an
        # absolute path; there is no relative form.
        authority, _, path = rest.partition("/")
        if authority not in ("", "localhost") or not path or path.endswith("/"):
            raise _bad(url, "expected file:///absolute/path.db")
        return StoreURL(scheme="sqlite", path=_not_a_folder(url, _sqlite_path(url, "/" + path)))
    scheme = _ALIASES.get(scheme_text.lower(), scheme_text.lower())
    if scheme not in SCHEMES:
        raise _bad(url, f"unknown scheme {scheme_text!r}")
    if scheme == "memory":
        if rest not in ("", "/"):
            raise _bad(url, "memory:// takes no path")
        return StoreURL(scheme="memory")
    if scheme == "sqlite":
        # sqlite:///rel.db -> "rel.db"; sqlite:////abs.db -> "/abs.db"
        if not rest.startswith("/"):
            raise _bad(url, "expected sqlite:///relative.db or sqlite:////absolute/path.db")
        path = _sqlite_path(url, rest[1:])
        if not path or path.endswith("/"):
            raise _bad(url, "missing the database file path")
        return StoreURL(scheme="sqlite", path=_not_a_folder(url, os.path.expanduser(path)))

    if "#" in rest:
        # urllib keeps a fragment aside and the store would be used without
        # it. Quoted only without an '@' after it: otherwise it is the
        # end of a password holding a '#' (shown redacted in the URL).
        # Nor in a password option (?password=pa#ss, ?password=#ss): its end too.
        before, _, fragment = url.partition("#")
        in_password = "@" in fragment or any(start <= len(before) < end for start, end in _password_spans(url))
        shown = f", got {'#' + fragment!r}" if not in_password else ""
        raise _bad(url, f"a store URL takes no fragment ('#...'){shown} (in a password, write '#' as %23)")
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:  # "Invalid IPv6 URL": a "[" or "]" out of place
        raise _bad(
            url, "an unbalanced '[' or ']' (an IPv6 host goes in brackets; in a password, write %5B and %5D)"
        ) from None
    try:
        port = parts.port
    except ValueError:
        port = 0
    if port == 0:
        # urllib accepts port 0, which no server listens on (and which the
        # defaults below would silently replace).
        # Named only when it is a number: otherwise it may be a piece of a
        # password holding a "/" (postgresql://u:pa/ss@host/db).
        given = parts.netloc.rpartition("@")[2].rpartition(":")[2]
        shown = f", got {given}" if given.isdigit() else ""
        raise _bad(
            url, f"the port must be a number from 1 to 65535{shown} (in a password, write '/' as %2F, '?' as %3F, '#' as %23)"
        )
    host = parts.hostname
    if host is not None:
        # urllib leaves a host's percent escapes as they are: "my%20host"
        # reached the database driver, which failed to resolve it at the
        # first write. Decoded, it must be a host name or an IP address.
        decoded = urllib.parse.unquote(host)
        _check_chars(url, decoded, "the host")
        if not _is_host(decoded):
            written = parts.netloc.rpartition("@")[2]  # as the URL writes it: urllib lowercases it
            written = written.rpartition(":")[0] if port is not None else written
            shown = f" (decoded: {urllib.parse.unquote(written)!r})" if "%" in written else ""
            hint = ""
            try:  # an international name: the database drivers take its ASCII form only
                ascii_form = decoded.encode("idna").decode("ascii")
                hint = f" (write it as {ascii_form!r})" if _is_host(ascii_form) else ""
            except UnicodeError:
                pass
            raise _bad(url, f"the host {written!r}{shown} is not a host name or an IP address{hint}")
        host = decoded
    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
    query = dict(pairs)
    if len(query) < len(pairs):
        # The last one was used in silence (?timeout=abc&timeout=5 was taken).
        twice = sorted({key for key, _ in pairs if sum(k == key for k, _ in pairs) > 1})
        raise _bad(url, f"option(s) {twice} given more than once")
    # A MySQL socket needs no host (mysql://user@/db?socket=PATH); with one,
    # the socket is used, as MySQL's own clients do for localhost.
    if "socket" in query and not query["socket"]:
        raise _bad(url, "socket= needs the path of the server's socket file")  # MLMD aborted the process
    if not host and not (scheme == "mysql" and query.get("socket")):
        raise _bad(url, "missing the host")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    if "/" in parts.path[1:] and "@" not in parts.path:  # with an '@', a password's piece: refused below, unquoted
        # postgresql://h/db/extra: the database name is one segment (a '/'
        # in it is written %2F); the rest was kept as part of the name.
        raise _bad(url, f"the path {parts.path!r} has more than one segment: the database name is one (write a '/' in it as %2F)")
    database = urllib.parse.unquote(parts.path.lstrip("/")) or None
    # Percent escapes can decode to a NUL (%00).
    for what, text in [("the user", user), ("the password", password), ("the database name", database)]:
        if text is not None:
            _check_chars(url, text, what)
    for key, value in query.items():
        _check_chars(url, key + "=" + value, f"the option {key!r}")

    if scheme in ("grpc", "grpcs"):
        if port is None:
            raise _bad(url, "missing the port (grpc://host:port)")
        if database:
            raise _bad(url, "a grpc URL takes no path")
        if parts.username is not None or parts.password is not None:
            raise _bad(url, "a grpc URL takes no user or password (use grpcs:// with certificates)")
        tls: Dict[str, bytes] = {}
        for option in _TLS_OPTIONS:
            if option in query:
                value = query.pop(option)
                if scheme == "grpc":
                    raise _bad(url, f"{option} needs the grpcs:// scheme")
                tls[option] = _read_pem(url, option, value)
        unknown = sorted(set(query) - {"timeout"})
        if unknown:
            raise _bad(url, f"unknown option(s) {unknown}; known: {list(_TLS_OPTIONS) + ['timeout']}")
        if "timeout" in query:
            try:
                timeout = float(query["timeout"])
            except ValueError:
                timeout = math.nan
            if not 0 < timeout <= _MAX_GRPC_TIMEOUT:
                # Past about 5e9 s gRPC's deadline overflows: every call
                # failed at once, DEADLINE_EXCEEDED, and every write was spooled.
                raise _bad(
                    url, f"timeout must be a positive number of seconds, at most {_MAX_GRPC_TIMEOUT:g}, got {query['timeout']!r}"
                )
        if scheme == "grpcs" and not tls:
            raise _bad(url, "grpcs:// needs at least root_certificates=FILE")
        unpaired = _unpaired(tls)
        if unpaired:
            raise _bad(url, f"{unpaired[0]} needs {unpaired[1]} (a client key and its certificate go together)")
        return StoreURL(scheme=scheme, host=host, port=port, tls=tls, options=query)

    if database is None:
        raise _bad(url, "missing the database name (…/dbname)")
    if "@" in database:  # postgresql://u:12345/abc@host/db: a password with a '/' read as a port and path
        raise _bad(url, "an '@' after the host (in a password, write '/' as %2F and '@' as %40)")
    if scheme == "mysql" and not _MYSQL_DATABASE.fullmatch(database):
        # MLMD creates and selects the database by its name unquoted: any
        # other failed with a SQL syntax error at the first write, taken for
        # a server that did not answer (and the writes were spooled).
        raise _bad(
            url,
            f"the database name {database!r} cannot be used by MLMD on MySQL, which writes it unquoted: "
            "use letters, digits, '_' and '$' (not only digits), at most 64",
        )
    known = ["socket"] if scheme == "mysql" else []
    unknown = sorted(set(query) - set(known))
    if unknown:
        raise _bad(url, f"unknown option(s) {unknown}; known: {known or 'none (a postgresql URL takes no option)'}")
    return StoreURL(
        scheme=scheme,
        host=host,
        port=port or _DEFAULT_PORTS[scheme],
        user=user,
        password=password,
        database=database,
        options=query,
    )


def _not_a_folder(url: str, path: str) -> str:
    """*path*, refused if it is a folder: Store() took one, and every write
    then failed ("unable to open database file")."""
    if os.path.isdir(path):
        raise _bad(url, f"{path!r} is a folder: name the database file, e.g. {os.path.join(path, 'lineage.db')!r} in it")
    return path


def _sqlite_path(url: str, text: str) -> str:
    """The percent-decoded file path of a sqlite:// or file:// URL.

    MLMD opens the path as a plain file name, so a query string or fragment
    (``?mode=ro``) would only become part of the file's name: no option is
    supported there, and a literal ``?`` or ``#`` is written ``%3F`` / ``%23``.
    """
    for mark, what in (("?", "query string"), ("#", "fragment")):
        if mark in text:
            raise _bad(
                url,
                f"a sqlite URL takes no {what} ({mark!r}...): no option is supported; "
                f"write a {mark!r} in the file name as {urllib.parse.quote(mark)}",
            )
    path = urllib.parse.unquote(text)
    _check_chars(url, path, "the file path")
    return path


def _read_pem(url: str, option: str, value: str) -> bytes:
    if value.startswith("-----BEGIN"):
        problem = pem_problem(option, value.encode("utf-8"))
        if problem:
            raise _bad(url, f"{option}: the value {problem}")
        return value.encode("ascii")
    path = os.path.expanduser(value)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO or a device would block the open for ever
            raise _bad(url, f"{option} file {value!r} is not a regular file")
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise _bad(url, f"cannot read {option} file {value!r}: {exc.strerror}") from None
    problem = pem_problem(option, data)
    if problem:
        raise _bad(url, f"{option} file {value!r} {problem}")
    return data


def pem_problem(option: str, data: bytes) -> Optional[str]:
    """Why *data* cannot be the PEM text of *option*, or None.

    MLMD's client config holds it as ASCII text: a DER file (binary) failed
    with a UnicodeDecodeError at the first call, raised into the caller or
    taken for a refused write (and the write was lost).
    """
    if not data.isascii() or b"-----BEGIN" not in data:
        return "is not PEM text (a DER file converts with: openssl x509 -inform der -in FILE -out FILE.pem)"
    # The wrong file (the options swapped, the server's key as the CA) was
    # taken for a server that did not answer ("Failed to create security
    # handshaker"): every write spooled, and never landed.
    if option == "private_key":
        if b"PRIVATE KEY-----" not in data:
            return "holds no PEM private key (no '-----BEGIN PRIVATE KEY-----' line)"
        if b"ENCRYPTED" in data:
            return "is encrypted; gRPC needs the key unencrypted (openssl pkey -in KEY -out PLAIN writes one)"
    elif b"CERTIFICATE-----" not in data:
        return "holds no PEM certificate (no '-----BEGIN CERTIFICATE-----' line)"
    return None


def _unpaired(tls: Dict[str, Any]) -> Optional[Tuple[str, str]]:
    """(the option given, the one missing) when only one of private_key and
    certificate_chain is: gRPC aborted the whole process at the first call
    (a failed CHECK, SIGABRT), the user's with it."""
    if ("private_key" in tls) == ("certificate_chain" in tls):
        return None
    return ("private_key", "certificate_chain") if "private_key" in tls else ("certificate_chain", "private_key")


def tls_url(host: str, port: int, tls: Dict[str, Optional[bytes]]) -> StoreURL:
    """A StoreURL for the Kubeflow SDK's Store(grpc_host, grpc_port, certs...) form.

    Raises:
        InvalidValueError: *host* is not a host name or an IP address.
    """
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") and ":" in host else host  # kept bare, as a URL's [::1] is
    if not _is_host(bare):
        raise InvalidValueError(f"Store(grpc_host) must be a host name or an IP address, got {host!r}")
    given = {k: v for k, v in tls.items() if v}
    for option, data in given.items():
        if isinstance(data, bytes) and not data.isascii():  # DER: failed at the first call (see pem_problem)
            raise InvalidValueError(f"Store({option}) must be PEM (ASCII text), got {len(data)} bytes of binary data")
    unpaired = _unpaired(given)
    if unpaired:
        raise InvalidValueError(f"Store({unpaired[0]}) needs Store({unpaired[1]}) (a client key and its certificate go together)")
    for option, data in given.items():
        problem = pem_problem(option, data)
        if problem:
            raise InvalidValueError(f"Store({option}) {problem}")
    return StoreURL(scheme="grpcs" if given else "grpc", host=bare, port=int(port), tls=given)


#: A MySQL database name MLMD can use: an unquoted identifier.
_MYSQL_DATABASE = re.compile(r"(?![0-9]+$)[A-Za-z0-9_$]{1,64}")

#: A PostgreSQL database name MLMD can create: an unquoted identifier
#: (PostgreSQL folds one to lowercase). Another works only if it exists.
POSTGRESQL_PLAIN_DATABASE = re.compile(r"[a-z_][a-z0-9_$]{0,62}")


def _is_host(text: str) -> bool:
    """A DNS name (letters, digits, '-', '_', '.') or an IP address."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return bool(re.fullmatch(r"[A-Za-z0-9_]([A-Za-z0-9_.-]{0,252})", text))
