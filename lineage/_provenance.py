"""Where a tracked call ran: code, git state, host, interpreter.

Everything is computed once per process (git state once per folder, the
source hash once per function) and cached, so a tracked call pays nothing
for it after the first.
"""

from __future__ import annotations

import functools
import getpass
import hashlib
import inspect
import json
import os
import platform
import re
import socket
import subprocess
import sys
import urllib.parse
from typing import Any, Callable, Dict, List, Optional, Tuple

from lineage._secrets import (
    _ABOUT,
    _FILE_NAME,
    _HOLDS,
    _WORD,
    REDACTED,
    _hides,
    _is_secret,
    _kind,
    _looks_like_token,
    _prefixed_token,
)
from lineage._version import __version__

__all__ = ["call_provenance", "function_provenance", "git_state"]

_PREFIX = "lineage."


@functools.lru_cache(maxsize=1)
def _process() -> Dict[str, Any]:
    """Host, user, Python and lineage versions, command line (not the pid:
    a forked child shares the rest)."""
    try:
        user = getpass.getuser()
    except Exception:  # no passwd entry in some containers
        user = str(os.getuid()) if hasattr(os, "getuid") else "unknown"
    return {
        "host": socket.gethostname(),
        "user": user,
        "python": platform.python_version(),
        "lineage_version": __version__,
        "command": _command(),
    }


def _command() -> str:
    """The command line, its secrets hidden; its first word alone if that
    fails (an argument the rules were not written for must not cost every
    execution of the process its provenance, nor show a secret)."""
    if not sys.argv:
        return ""
    try:
        return " ".join(_redacted(sys.argv))[:2048]
    except Exception as exc:  # noqa: BLE001 - provenance is best effort
        return f"{str(sys.argv[0])[:1024]} (arguments not recorded: {type(exc).__name__})"


# user:password@ in a URL (a store or database URL given on the command line),
# up to the last "@" of the authority (a password with an "@" not encoded)
_URL_PASSWORD = re.compile(r"(://[^/@\s:]*):[^/\s]*@")


def _redacted(argv: List[str]) -> List[str]:
    """The command line with secrets as ``***``, as parameters named like
    secrets are: ``--password=x``, ``--api-key x``, ``db.password=x``
    (a Hydra override), a URL's password and its query's secrets
    (``?access_token=x``, a presigned URL's signature), and a connection
    string's (``"host=db password=x"``, ``"Server=s;Pwd=x"``)."""
    out: List[str] = []
    secret_name = ""
    # A user flag anywhere makes -p a password's (see _credential_flags_redacted);
    # the flag before this argument, when it is one giving a user or a password.
    login = any(_user_flag(arg) is not None for arg in argv[1:])
    credential_flag = ""
    for index, arg in enumerate(argv):
        if credential_flag and not _OPTION.match(arg):
            arg = _credentials_redacted(arg) if credential_flag != "-p" else _password_redacted(arg)
        credential_flag = ""
        if index:
            arg, credential_flag = _credential_flags_redacted(arg, login)
        given = bool(secret_name) and not _OPTION.match(arg)  # the value of a flag about a secret
        if given and _given_hidden(secret_name, arg):
            out.append(REDACTED)
            secret_name = ""
            continue
        # One kept (--auth-url postgres://u:pw@h/db, --password-file /run/a?token=x)
        # has its own secrets hidden as any argument's are: it skipped these rules.
        if index and _prefixed_token(arg):  # a positional hf_..., --key AIza...: a token whatever its flag
            out.append(REDACTED)
            secret_name = ""
            continue
        name, eq, value = arg.partition("=")
        # The first "=" a URL's query's (https://h/x?access_token=abc&x=1): its pairs are judged below, one by one.
        in_query = "://" in name and ("?" in name or "#" in name)
        if index and eq and name and not in_query and _value_hidden(name, value):
            arg = name + "=" + REDACTED
        elif index and eq and not in_query:
            arg = _pairs_redacted(arg)
        secret_name = arg if index and not given and not eq and arg.startswith("-") and _is_secret(arg) else ""
        arg = _URL_PASSWORD.sub(r"\1:" + REDACTED + "@", arg)
        if "?" in arg or "#" in arg or ";" in arg:
            arg = _URL_QUERY.sub(_query_redacted, arg)
        if index and ":" in arg:
            arg = _HEADER.sub(_header_redacted, arg, count=1)
        out.append(_URL_USER.sub(_user_redacted, arg))
    return out


# Flags giving curl's user:password (--user, -u, --proxy-user, -U); also
# docker's, mongo's, mycli's user name, whose -p is then the password, and
# --username, the long form of -u of docker login, helm registry login,
# mongo, oc login, az login (and of psql's -U).
_LONG_USER_FLAGS = ("--user", "--proxy-user", "--username")
_USER_FLAGS = (*_LONG_USER_FLAGS, "-u", "-U")


def _user_flag(arg: str) -> Optional[str]:
    """The flag of *arg* if it gives a user (``-u``, ``--user=alice:pw``,
    ``-ualice:pw``, ``-uroot`` as mysql writes it), else None. A long option
    written with one dash (``-use_gpu``, ``-unk_token``, ``-update-freq``,
    as many a training script's are) is none, unless it has a password
    (``-uuser_x:pw``): it made ``-p``'s value a password, and a
    ``-pretrained_model`` flag ``-p***``."""
    if arg in _USER_FLAGS:
        return arg
    name, eq, _ = arg.partition("=")
    if eq and name in _LONG_USER_FLAGS:
        return name
    if len(arg) > 2 and arg[:2] in ("-u", "-U") and (":" in arg or not _ONE_DASH_OPTION.fullmatch(arg)):
        return arg[:2]
    return None


# A long option written with one dash: a word, then "_" or "-" and more (-use_gpu, -unk_token).
_ONE_DASH_OPTION = re.compile(r"-[A-Za-z]{2,}[_-][\w-]+")


def _credential_flags_redacted(arg: str, login: bool) -> Tuple[str, str]:
    """*arg* with the password of a user flag given with it hidden
    (``--user=alice:***``, ``-ualice:***``), and the flag whose value is the
    next argument, if any: a user flag's or, with one on the command line
    (*login*), ``-p``'s. ``-p`` is a port (or a path, a profile) for most
    tools, and kept: only beside a user flag is it a password (``docker
    login -u me -p pw``, ``mongo``, ``mycli``, ``mysql -uroot -ppw``), and
    then a number is still taken for a port and kept."""
    if arg in _USER_FLAGS or (login and arg == "-p"):
        return arg, arg
    if login and len(arg) > 2 and arg.startswith("-p") and arg[2] != "-":
        return "-p" + _password_redacted(arg[2:]), ""
    flag = _user_flag(arg)
    if flag is None:
        return arg, ""
    cut = len(flag) + (arg[len(flag) : len(flag) + 1] == "=")
    return arg[:cut] + _credentials_redacted(arg[cut:]), ""


def _credentials_redacted(value: str) -> str:
    """``user:password``, a user flag's value, with its password hidden and
    its user kept, as a URL's are (postgres://u:***@h); a user that looks
    like a token hidden too (Stripe's ``-u sk_test_...:``), as a URL's user
    is. A URL, a user alone and a docker uid:gid (``1000:1000``) are kept."""
    user, colon, password = value.partition(":")
    if not colon or "://" in value or (user.isdigit() and password.isdigit()) or _host_and_port(user, password):
        return value
    shown = REDACTED if _looks_like_token(user) else user
    return shown + colon + (REDACTED if password else "")


# A host that a user name is not: localhost, an IPv4 address, or a name of
# three dotted labels or more (db.example.com). Not any dotted name: first.last
# is a user's (and a numeric password kept costs more than example.com:***).
_HOST = re.compile(r"(?:[A-Za-z0-9-]+\.)*localhost|\d{1,3}(?:\.\d{1,3}){3}|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+){2,}")
_PORT = re.compile(r"[1-9][0-9]{0,4}")


def _host_and_port(user: str, password: str) -> bool:
    """Whether ``user:password`` is rather ``host:port`` (``-u localhost:8080``,
    ``--user 10.0.0.5:5432``): a host, not a user, and a port (1 to 65535,
    no leading 0). A numeric password of a user (``-u admin:1234``) stays hidden."""
    return bool(_PORT.fullmatch(password)) and int(password) <= 65535 and bool(_HOST.fullmatch(user))


# What -p gives beside a user flag that is no password: docker run's port
# mapping (-u 1000 -p 8080:80, 127.0.0.1:8080:80/tcp, 8000-8010:8000-8010),
# and a path of plain names that reads as one: from "/", "./", "../" or "~/"
# (-p ./data/train), or ending with a config's or data's extension (-p
# configs/base.yaml, -p base.yaml). A "/" alone makes no path: pass/word and
# secret/1 are passwords, as "pw.x" may be one.
_PORT_MAPPING = re.compile(r"(?:\d{1,3}(?:\.\d{1,3}){3}:)?(?:\d{1,5}(?:-\d{1,5})?)?:\d{1,5}(?:-\d{1,5})?(?:/(?:tcp|udp|sctp))?")
_PLAIN_PATH = re.compile(r"(?:\.{0,2}|~)/[\w./~-]*|[\w./~-]*\.(?:yaml|yml|json|toml|ini|cfg|conf|txt|csv|tsv|xml|py|sh)")


def _password_redacted(value: str) -> str:
    """The value of ``-p`` beside a user flag: hidden, unless a number (a
    port), a port mapping or a path, that no password looks like (a path of
    base64, a token, is hidden)."""
    if _number_text(value) or _PORT_MAPPING.fullmatch(value):
        return value
    if _PLAIN_PATH.fullmatch(value) and not _looks_like_credentials(value) and not _looks_like_token(value):
        return value
    return REDACTED


# An HTTP header given as an argument, whole or as a flag's value (-H
# "Authorization: Bearer x", --header=X-Api-Key:x, httpie's Cookie:sid=x).
_HEADER = re.compile(r"(?:^|(?<==))([A-Za-z][\w.\-]*)(\s*:\s*)(\S.*)$", re.DOTALL)


def _header_redacted(header: re.Match[str]) -> str:
    """A header's value as ``***`` when its name is a secret's
    (Authorization, Cookie, X-Api-Key, X-Auth-Token), judged as a pair's."""
    name, colon, value = header.groups()
    return name + colon + REDACTED if _value_hidden(name, value) else header.group()


# A URL's query and fragment (up to a space), from a path's parameters on
# (Java's /app;jsessionid=...), and a key=value pair in them. A "?" ends a
# value only before another pair (;jsessionid=x?q=1, ?next=/a?token=x): in a
# query it is data, and a password "ab?cd" was shown from it on (***?cd).
_URL_QUERY = re.compile(r"://[^\s?#;]*[?#;]\S*")
_QUERY_PAIR = re.compile(r"(?<=[?&;#])([^=&;#?\s]+)=([^&;#?\s]*(?:\?[^&;#?=\s]*(?=[&;#?\s]|$))*)")
# Query parameters that carry a secret without a secret word in their name
# (compared lower case, without "-" and "_"): a presigned S3 (and CloudFront)
# or GCS URL's signature, an Azure SAS's sig; an API key as ?key= (Google's
# APIs, Firebase, YouTube, Trello: a URL's query "key" is that far more often
# than a label, and a label lost from provenance costs less than a billable
# key shown); a session's id (?sessionid=, ?sid=, ?JSESSIONID=, ?PHPSESSID=),
# which is the login as long as the session lasts.
_URL_SECRETS = frozenset(
    {"signature", "xamzsignature", "xgoogsignature", "sig", "key", "sessionid", "sid", "jsessionid", "phpsessid", "sessid"}
)
def _query_redacted(url: re.Match[str]) -> str:
    """A URL's query with the values of its secret parameters as ``***``
    (?access_token=, ?api_key=, ?key=, ?sessionid=, a presigned URL's
    X-Amz-Signature and X-Amz-Credential), judged as a parameter's name is,
    and a known service's token under any name (?q=AIza...); the others
    kept (not every long opaque value: a commit's hash, a file's id)."""

    def one(pair: re.Match[str]) -> str:
        key, value = pair.groups()
        name, text = urllib.parse.unquote_plus(key), urllib.parse.unquote_plus(value)
        if name.lower().replace("-", "").replace("_", "") in _URL_SECRETS or _value_hidden(name, text):
            return key + "=" + REDACTED
        return pair.group()

    return _QUERY_PAIR.sub(one, url.group())


# A URL's user with no password: git's https://<token>@github.com/... (a user
# name, postgres@ or git@, is kept: only one that looks like a token is hidden).
_URL_USER = re.compile(r"(://)([^/@\s:]+)@")


def _user_redacted(url: re.Match[str]) -> str:
    scheme, user = url.groups()
    return scheme + (REDACTED if _looks_like_token(urllib.parse.unquote(user)) else user) + "@"


# What follows a flag and is the next option, not its value: --name, -x. A
# value after a flag naming a secret that starts with "-" otherwise ("-s3cr!",
# "-vv") is hidden: a password may start with one.
_OPTION = re.compile(r"--[A-Za-z]|-[A-Za-z]$")
# A flag of a boolean option about a secret, not one given it: --use-token, --no-password.
_SWITCH_WORDS = frozenset({"use", "no", "with", "without", "enable", "disable", "ask", "prompt", "require", "skip"})


def _value_hidden(name: str, value: str) -> bool:
    """Whether *value*, given *name* in a pair (``name=value``, ``?name=value``), is hidden."""
    return _given_hidden(name, value) or _prefixed_token(value)


def _given_hidden(name: str, value: str) -> bool:
    """Whether *value*, given a parameter or flag *name* (``--name value``,
    ``--name=value``, ``db.name=value``, ``?name=value``), is hidden: as a
    parameter's is (lineage._secrets._hides: ``--password``, ``--api-key``
    and ``--password-value`` hide any value, ``--token-pooling cls``,
    ``--auth-method oauth``, ``--secret-name db`` only one that looks like
    a token), once what only text needs is seen to. After a switch
    (``--use-token data.csv``) the next word is not the secret at all:
    hidden only when it looks like a token. All is text here: after a flag
    only about a secret, a switch's value (``--token-classification true``),
    a number (``--token-limit 4096``) and a path (``--password-file
    /run/pw``) are kept, unless they look like a token."""
    if not _is_secret(name):
        return False
    words = _WORD.findall(name)
    if words and words[0].lower() in _SWITCH_WORDS:
        return _looks_like_token(value)
    kind = _kind(name)
    # After a flag only about a secret (--auth-header, --secret-id), which
    # hides any text as a parameter does, a "path" may be its credentials.
    path = _looks_like_path(value) and not (kind is _ABOUT and _looks_like_credentials(value))
    text_kept = value.lower() in _SWITCH_VALUES or path or _number_text(value)
    if text_kept and kind is not _HOLDS and not _looks_like_token(value):
        return False
    return _hides(name, value)


# Base64 text (Basic credentials, a key): a "/" of it made it a path.
_BASE64 = re.compile(r"[A-Za-z0-9+][A-Za-z0-9+/]{15,}={0,2}")


def _looks_like_credentials(value: str) -> bool:
    """Whether *value*, which has a "/" or "\\" as a path has, is rather
    credentials: a scheme and its credentials (``Bearer abc/def``: words, as
    no path's), or base64 of 16 characters or more ending with "=" or
    holding a "+" or mixing upper and lower case letters and digits as a
    key does, with no word between its "/" as a path has
    (``embeddings/glove300d``, ``data/Glove6B/vectors`` are kept)."""
    if len(value.split()) > 1:
        return True
    if not _BASE64.fullmatch(value):
        return False
    if "+" in value or value.endswith("="):
        return True
    mixed = any(c.isupper() for c in value) and any(c.islower() for c in value) and any(c.isdigit() for c in value)
    return mixed and not any(_PATH_WORD.fullmatch(part) for part in value.split("/"))


# A folder's or file's name in a path: a word of lower case letters.
_PATH_WORD = re.compile(r"[a-z]{3,}")


def _number_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


# Values of a flag about a secret that are no secret: --token-classification true.
_SWITCH_VALUES = frozenset({"true", "false", "yes", "no", "on", "off", "none", "null", "auto"})


def _looks_like_path(value: str) -> bool:
    return "/" in value or "\\" in value or value.startswith("~") or bool(_FILE_NAME.fullmatch(value))


# A key=value pair of a libpq DSN (separated by spaces, a value maybe quoted
# '...') or of an ODBC / ADO.NET connection string (by ";", a value maybe in {...}).
_PAIR = re.compile(r"""(?<![^\s;])([\w.\-]+)(\s*=\s*)('(?:[^'\\]|\\.)*'?|"[^"]*"?|\{(?:[^}]|\}\})*\}?|[^\s;]*)""")


# How deep the value of a key is looked into for more pairs (--conn=Password=x is
# 2): one call each, so a=a=...=a, thousands deep, raised RecursionError and every
# execution of the process was lost. Deeper, the rest is hidden.
_PAIR_DEPTH = 16


def _pairs_redacted(text: str, depth: int = 0) -> str:
    """*text* with the values of its secret key=value pairs as ``***``; the
    value of another key (--conn=Password=x;...) is looked into in turn."""
    if depth >= _PAIR_DEPTH:
        return REDACTED

    def one(pair: re.Match[str]) -> str:
        key, equals, value = pair.groups()
        if _value_hidden(key, value.strip("'\"{}")):
            return key + equals + REDACTED
        return key + equals + (_pairs_redacted(value, depth + 1) if "=" in value and value[:1] not in "'\"{" else value)

    return _PAIR.sub(one, text)


# Variables that make git use a given repository whatever the folder it runs
# in (git sets them for its hooks and `rebase --exec`): the state taken is the
# one of the repository holding the code (git drops the same for a submodule).
_REPOSITORY_VARIABLES = frozenset({
    "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY", "GIT_IMPLICIT_WORK_TREE",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_PREFIX", "GIT_SHALLOW_FILE", "GIT_GRAFT_FILE",
})


# A repository exported as GIT_DIR: the variables for git, paths made absolute
# (git runs in the code's folder, and a relative GIT_DIR is to the user's).
_Repository = Tuple[Tuple[str, str], ...]
_PATH_VARIABLES = ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_COMMON_DIR", "GIT_OBJECT_DIRECTORY")


def _exported_repository() -> _Repository:
    """The repository the user exported, GIT_DIR with GIT_WORK_TREE (a
    repository kept apart from its work tree, bare or a dotfiles one), or ()."""
    if not (os.environ.get("GIT_DIR") and os.environ.get("GIT_WORK_TREE")):
        return ()
    cwd = _cwd()
    variables = {}
    for name in _REPOSITORY_VARIABLES - {"GIT_PREFIX"}:  # GIT_PREFIX: of git's own folder, for its hooks
        value = os.environ.get(name)
        if value is None:
            continue
        if name in _PATH_VARIABLES and not os.path.isabs(value):
            if cwd is None:
                return ()
            value = os.path.join(cwd, value)
        variables[name] = value
    return tuple(sorted(variables.items()))


def _git_env(repository: _Repository = ()) -> Dict[str, str]:
    env = {name: value for name, value in os.environ.items() if name not in _REPOSITORY_VARIABLES}
    env.update(repository)
    # git status rewrites a stale index, under .git/index.lock: the user's own
    # git add / commit at that moment failed ("index.lock: File exists").
    env["GIT_OPTIONAL_LOCKS"] = "0"
    # git's messages in English: "not a git repository" is told from a
    # failure by them, and git_error reads the same whoever ran the code.
    env["LC_ALL"] = "C"
    env.pop("LANGUAGE", None)
    return env


def _git(folder: str, *args: str, repository: _Repository = ()) -> Tuple[Optional[str], str]:
    """The output of git *args* run in *folder* (of *repository*, else of
    the one holding *folder*), or None and why not."""
    try:
        done = subprocess.run(
            # errors="replace": file names are printed as their bytes with core.quotePath off
            ("git", *args), cwd=folder, env=_git_env(repository), capture_output=True, text=True, errors="replace", timeout=5,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"git {args[0]} took over 5 s"
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    if done.returncode != 0:
        # Its fatal line, not a warning printed before it (a config git cannot
        # read): "not a git repository" is told by it (see _repository_of).
        lines = done.stderr.strip().splitlines() or [f"git {args[0]} exited with {done.returncode}"]
        return None, next((line for line in lines if line.startswith(("fatal:", "error:"))), lines[0])
    return done.stdout.strip(), ""


def git_state(folder: str) -> Dict[str, Any]:
    """Commit and dirty flag of the git work tree holding *folder*, if any
    (the flag None, and git_error why, when git status fails or times out,
    or git refuses the repository: one of another user, say)."""
    return _repository_of(folder)[0]


@functools.lru_cache(maxsize=256)
def _repository_of(folder: str) -> Tuple[Dict[str, Any], _Repository]:
    """git_state of *folder*, and the exported repository it is of (or ())."""
    head, error = _git(folder, "rev-parse", "--show-toplevel", "HEAD")
    repository: _Repository = ()
    if head is None and error.startswith(_NOT_A_REPOSITORY):
        # In no repository of its own: in the work tree of an exported one? (Not
        # before the code's own: git sets GIT_DIR for its hooks, of another one.)
        repository = _exported_repository()
        if repository:
            head, error = _git(folder, "rev-parse", "--show-toplevel", "HEAD", repository=repository)
            top = head.splitlines()[0] if head else ""
            if head is not None and not _inside(folder, top):  # git takes any folder as in it
                return {}, ()
    lines = head.splitlines() if head else []
    if len(lines) == 2:
        return {"git_commit": lines[1], **_status(lines[0], repository)}, repository
    if head is None and error and not error.startswith(_NO_COMMIT):
        # "detected dubious ownership" (safe.directory), a timeout, an unreadable .git:
        # the code may well be in a repository, and no commit was recorded, nor why.
        return {"git_dirty": None, "git_error": error[:512]}, repository
    return {}, repository


def _inside(folder: str, top: str) -> bool:
    folder, top = os.path.realpath(folder), os.path.realpath(top)
    return folder == top or folder.startswith(top.rstrip(os.sep) + os.sep)


# No commit to speak of: no repository holds the folder, git is not
# installed, or the repository has no commit yet (HEAD unborn).
_NOT_A_REPOSITORY = "fatal: not a git repository"
_NO_COMMIT = (_NOT_A_REPOSITORY, "FileNotFoundError", "fatal: ambiguous argument 'HEAD'")


@functools.lru_cache(maxsize=64)
def _status(top: str, repository: _Repository = ()) -> Dict[str, Any]:
    """The dirty flag of the work tree at *top*: git status once per work
    tree, not per folder of code (a second or more each in a large one)."""
    status, error = _git(top, "status", "--porcelain", "--untracked-files=no", repository=repository)
    if status is None:  # not known: a failed git status had been called clean
        return {"git_dirty": None, "git_error": error[:512]}
    return {"git_dirty": bool(status)}


@functools.lru_cache(maxsize=1024)
def _untracked(filename: str) -> bool:
    """Whether git does not track *filename* (a script never committed: the
    commit does not hold the code that ran, and ``git status`` without
    untracked files calls the tree clean)."""
    try:
        done = subprocess.run(
            # a file name, not a pattern: "step[A].py" must not match stepA.py
            ("git", "--literal-pathspecs", "ls-files", "--error-unmatch", "--", os.path.basename(filename)),
            cwd=os.path.dirname(filename), env=_git_env(_repository_of(os.path.dirname(filename))[1]), capture_output=True,
            timeout=5, check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode != 0


def _cwd() -> Optional[str]:
    """The working folder, None if it was deleted (os.getcwd raised, and
    the execution was not recorded)."""
    try:
        return os.getcwd()
    except OSError:
        return None


def function_provenance(func: Callable[..., Any]) -> Dict[str, Any]:
    """Module, qualified name, source hash and git state of a function."""
    if not (inspect.isroutine(func) or isinstance(func, (type, functools.partial)) or hasattr(func, "__wrapped__")):
        # A callable instance: its class's (it had no name nor source, and
        # the git state of the working folder, not of the class's file).
        func = type(func)
    info: Dict[str, Any] = {
        "module": getattr(func, "__module__", None) or "",
        "function": getattr(func, "__qualname__", None) or getattr(func, "__name__", "") or "",
    }
    try:
        source = inspect.getsource(func)
        info["source_sha256"] = hashlib.sha256(source.encode("utf-8")).hexdigest()
    except (OSError, TypeError):
        pass
    try:
        filename = inspect.getsourcefile(func) or ""
    except (OSError, TypeError):  # OSError: a class of a module with no file (python -c)
        filename = ""
    exists = bool(filename) and os.path.isfile(filename)
    folder = os.path.dirname(os.path.abspath(filename)) if exists else _cwd()
    if folder is not None:
        info.update(git_state(folder))
    if exists and "git_commit" in info and _untracked(os.path.abspath(filename)):
        info["git_dirty"] = True
        info["source_untracked"] = True
    return info


# (pid, function key or cwd) -> the compact provenance properties.
_merged: Dict[Any, Tuple[Tuple[str, Any], ...]] = {}


def _compact(code: Dict[str, Any]) -> Dict[str, Any]:
    """Provenance as two execution properties instead of a dozen.

    Every property is a row MLMD inserts on each write; the git commit stays
    a property of its own (the one people filter on), the rest is one JSON.
    """
    out: Dict[str, Any] = {}
    code = dict(code)
    if "git_commit" in code:
        out[_PREFIX + "git_commit"] = code.pop("git_commit")
    process = {**_process(), "pid": os.getpid()}
    out[_PREFIX + "provenance"] = json.dumps({"code": code, "process": process}, sort_keys=True, ensure_ascii=False)
    return out


#: Unhashable callables keyed by id in _merged, kept alive as long as their
#: entry (their id cannot then be reused by another object).
_pinned: Dict[int, Any] = {}


def _hashable(obj: Any) -> Any:
    try:
        hash(obj)
        return obj
    except TypeError:  # a dataclass instance with __call__, say
        _pinned[id(obj)] = obj
        return ("unhashable", id(obj))


def block_provenance(filename: Optional[str]) -> Dict[str, Any]:
    """Git state of a ``with`` block in *filename* (None: of the working
    folder), and source_untracked as for a function's file."""
    if filename is None or not os.path.isfile(filename):
        folder = _cwd()
        return git_state(folder) if folder is not None else {}
    info = dict(git_state(os.path.dirname(filename)))
    if "git_commit" in info and _untracked(filename):
        info["git_dirty"] = True
        info["source_untracked"] = True
    return info


def call_provenance(func: Optional[Callable[..., Any]] = None, block_file: Optional[str] = None) -> Tuple[Tuple[str, Any], ...]:
    """The provenance properties of an execution, as (name, value) pairs
    (shared, so also a cache key for what is built from them).

    ``lineage.git_commit``, and ``lineage.provenance``: JSON of ``code``
    (module, function, source_sha256, git_dirty, and source_untracked when
    the function's file is not in git (then git_dirty too); for a ``with``
    block the same git state of *block_file*, the file holding it, or of
    the working folder when it is in none) and ``process`` (host, user,
    python, lineage_version, command, pid). Built once per process and
    function, or file. If reading the code's provenance fails, ``code`` is
    ``{"error": ...}``: the execution is recorded all the same.
    """
    if func is not None:
        # Closures made anew share their code object, so their entry. Equal
        # code objects of two modules (or two notebook cells) are equal
        # whatever their file: the file and module are in the key too.
        # A decorator's wrapper (functools.wraps) is one code object for
        # every function it wraps: the function it wraps is in the key.
        inner = func
        if hasattr(func, "__wrapped__"):  # (inspect.unwrap gives a function without one back, at a cost per call)
            try:
                inner = inspect.unwrap(func)
            except ValueError:  # a __wrapped__ cycle
                inner = func
        code = getattr(func, "__code__", None)
        where = (
            getattr(code, "co_filename", None),
            getattr(func, "__module__", None),
            getattr(inner, "__code__", None) or _hashable(inner),
            getattr(func, "__qualname__", None),
        )
        key: Any = (os.getpid(), code or where[2], where)  # not func: a callable dataclass is unhashable
    else:
        key = (os.getpid(), _cwd(), block_file)
    merged = _merged.get(key)
    if merged is None:
        try:
            code = function_provenance(func) if func is not None else block_provenance(block_file)
        except Exception as exc:  # the execution is recorded all the same, saying what went wrong
            code = {"error": f"{type(exc).__name__}: {exc}"[:1024]}
        merged = tuple(_compact(code).items())
        if len(_merged) >= 4096:  # functions made on the fly (closures): stay bounded
            _merged.clear()
            _pinned.clear()
        _merged[key] = merged
    return merged
