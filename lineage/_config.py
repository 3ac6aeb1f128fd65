"""All of lineage's process-wide settings, in one place.

Resolution order for the store and workspace: explicit argument >
:func:`lineage.init` > ``LINEAGE_STORE`` / ``LINEAGE_WORKSPACE`` >
embedded default store, workspace ``default``. A run is made per process
unless one is named.

What :func:`init` set is also what the process's children start with: a
forked child has it in memory, and a started one (a ``spawn`` or
``forkserver`` worker of multiprocessing, ``torch.multiprocessing.spawn``,
a script a driver runs) reads it from the ``LINEAGE_INIT`` environment
variable, which :func:`init` keeps up to date. Its own :func:`init`
overrides it, and so does a ``LINEAGE_*`` variable set anew for it
(``LINEAGE_STORE=... python step.py``). Without it, their calls went to
the default store and workspace, where no one looked for them.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
import threading
from typing import Any, Callable, Dict, Optional

import attrs

from lineage import _env
from lineage._fork import renew_after_fork
from lineage.errors import InvalidTypeError, InvalidValueError, describe

__all__ = ["Settings", "init", "reset_defaults", "settings"]

DEFAULT_WORKSPACE = "default"


@attrs.define(repr=False)
class Settings:
    """What :func:`lineage.init` set (``None``: not set)."""

    store: Optional[str] = None
    workspace: Optional[str] = None
    run: Optional[str] = None
    strict: Optional[bool] = None
    start_delay: Optional[float] = None
    enabled: bool = True

    def __repr__(self) -> str:
        """Only what was set, the store URL's password hidden: init() as the
        last line of a notebook cell showed every field, and the password."""
        from lineage.store._url import _redact

        shown = []
        for field in attrs.fields(Settings):
            value = getattr(self, field.name)
            if value != field.default:
                shown.append(f"{field.name}={_redact(value) if field.name == 'store' else value!r}")
        return f"Settings({', '.join(shown)})"


_settings = Settings()
_lock = threading.Lock()
renew_after_fork(globals(), "_lock")

_process_run: Dict[int, str] = {}
# Store objects made from settings, by URL; reused by every tracked call.
_stores: Dict[Any, Any] = {}
# (store, workspace name[, run name]) -> Workspace / Run objects.
_contexts: Dict[Any, Any] = {}
# Causes of lineage's own failures already warned about (once per cause),
# under a lock of their own: a warning may be given while _lock is held
# (cached_store makes the Store that warns).
_warned: set = set()
_warned_lock = threading.Lock()
renew_after_fork(globals(), "_warned_lock")


def settings() -> Settings:
    return _settings


def check_start_delay(where: str, value: Any) -> None:
    """None, or a finite number of seconds >= 0."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidTypeError(f"{where} must be a number of seconds, got {describe(value)}")
    if not 0 <= value < float("inf"):
        raise InvalidValueError(f"{where} must be a finite number >= 0, got {value!r}")


def check_optional_name(where: str, value: Any, max_bytes: Optional[int] = None) -> None:
    """None, or a non-blank string MLMD can store (a name given to
    init/track/execution): refused here, not at every call that uses it.

    Args:
        max_bytes: The most UTF-8 bytes MLMD keeps for it (default: a
            string property's limit).
    """
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidTypeError(f"{where} must be a str, got {describe(value)}")
    if not value.strip():
        raise InvalidValueError(f"{where} must be a non-empty string, got {value!r}")
    from lineage.records import MAX_TEXT_BYTES, check_text

    check_text(where, value, MAX_TEXT_BYTES if max_bytes is None else max_bytes)


def check_workspace_name(where: str, value: Any) -> None:
    """A workspace name: its MLMD context name is at most 255 bytes."""
    from lineage.records import MAX_CONTEXT_NAME_BYTES

    check_optional_name(where, value, MAX_CONTEXT_NAME_BYTES)


def init(
    store: Optional[str] = None,
    workspace: Optional[str] = None,
    run: Optional[str] = None,
    *,
    strict: Optional[bool] = None,
    start_delay: Optional[float] = None,
    enabled: Optional[bool] = None,
    hash_files: Optional[bool] = None,
) -> Settings:
    """Set process-wide defaults for tracked calls.

    Args:
        store: Store URL (see README), e.g. ``"sqlite:///lineage.db"``.
        workspace: Default workspace name.
        run: Run name for this process (default: one made per process).
        strict: Raise lineage's own failures instead of warning (for tests).
        start_delay: Seconds a tracked call may run before its RUNNING state
            is written; shorter calls cost one write.
        enabled: Turn tracking off (``False``) or on.
        hash_files: Compute SHA-256 digests of local artifacts (default on;
            ``LINEAGE_HASH=0`` turns it off).

    Returns:
        The settings now in force.
    """
    from lineage.store import parse_store_url

    if store is not None:
        if not isinstance(store, str):
            raise InvalidTypeError(f"init(store) must be a store URL (a str), got {describe(store)}")
        parse_store_url(store)  # raise now, at the call that made the mistake
    check_workspace_name("init(workspace)", workspace)
    check_optional_name("init(run)", run)
    if strict is not None and not isinstance(strict, bool):
        raise InvalidTypeError(f"init(strict) must be a bool, got {describe(strict)}")
    if enabled is not None and not isinstance(enabled, bool):
        raise InvalidTypeError(f"init(enabled) must be a bool, got {describe(enabled)}")
    if hash_files is not None and not isinstance(hash_files, bool):
        raise InvalidTypeError(f"init(hash_files) must be a bool, got {describe(hash_files)}")
    check_start_delay("init(start_delay)", start_delay)
    with _lock:
        if store is not None:
            _settings.store = store
        if workspace is not None:
            _settings.workspace = workspace
        if run is not None:
            _settings.run = run
        if strict is not None:
            _settings.strict = strict
        if start_delay is not None:
            _settings.start_delay = float(start_delay)
        if enabled is not None:
            _settings.enabled = enabled
    if hash_files is not None:
        global _hash_files
        from lineage.store import _digest

        _digest.set_enabled(hash_files)
        _hash_files = hash_files
    export_to_children()
    return _settings


#: What init(hash_files=...) set (None: not set), for the children.
_hash_files: Optional[bool] = None
INHERITED = "LINEAGE_INIT"
#: init() argument -> the environment variable it overrides.
_VARIABLE_OF = {
    "store": "LINEAGE_STORE",
    "workspace": "LINEAGE_WORKSPACE",
    "run": "LINEAGE_RUN",
    "strict": "LINEAGE_STRICT",
    "hash_files": "LINEAGE_HASH",
}


def export_to_children() -> None:
    """Keep ``LINEAGE_INIT`` (the environment a started child process gets)
    to what :func:`init` set here: JSON of the settings that are set.
    Under the settings' lock: two init() calls at once left the earlier
    one's settings there."""
    with _lock:
        given = {
            field.name: getattr(_settings, field.name)
            for field in attrs.fields(Settings)
            if getattr(_settings, field.name) != field.default
        }
        if _hash_files is not None:
            given["hash_files"] = _hash_files
        if given:
            # The variables init() overrode here, as they are: a child started
            # with one of them set anew for it takes that one instead.
            given["environment"] = {variable: os.environ.get(variable) for variable in _VARIABLE_OF.values()}
            os.environ[INHERITED] = json.dumps(given, sort_keys=True)
        else:
            os.environ.pop(INHERITED, None)


def _inherit() -> None:
    """Start from what the parent process's :func:`init` set (see the
    module's docstring). A value that is not one init() takes is named in
    a warning (never raised: read at import) and the rest is taken."""
    text = os.environ.get(INHERITED)
    if not text:
        return
    try:
        given = json.loads(text)
        if not isinstance(given, dict):
            raise ValueError("not a JSON object")
    except (ValueError, RecursionError) as exc:  # RecursionError: arrays nested past the JSON decoder's depth
        from lineage.errors import warn_never_raised

        # Not quoted: it may hold a store URL's password.
        warn_never_raised(f"{INHERITED} is not what lineage.init() writes in a parent process ({exc}); it is ignored")
        return
    parents = given.pop("environment", None)
    parents = parents if isinstance(parents, dict) else {}
    for name, value in given.items():
        variable = _VARIABLE_OF.get(name)
        if variable is not None and os.environ.get(variable) != parents.get(variable):
            continue  # set anew for this process (LINEAGE_STORE=... python step.py): it decides
        try:
            init(**{name: value})
        except (TypeError, ValueError) as exc:
            from lineage.errors import warn_never_raised
            from lineage.store._url import _redact

            shown = _redact(value) if isinstance(value, str) else value
            warn_never_raised(f"{INHERITED} from the parent process: {name}={shown!r} is ignored ({exc})")


def reset_defaults() -> None:
    """Forget everything :func:`init` set and every cached store (tests)."""
    global _settings, _hash_files
    with _lock:
        _settings = Settings()
        _stores.clear()
        _process_run.clear()
        _contexts.clear()
        _hash_files = None
    with _warned_lock:
        _warned.clear()
    from lineage.store import _digest

    _digest.set_enabled(_digest.env_default())
    export_to_children()


def store_url(explicit: Optional[str] = None) -> Optional[str]:
    if explicit is not None:
        return explicit
    if _settings.store is not None:
        return _settings.store
    # White space around it is dropped: a value read from a file (a Kubernetes
    # secret) ends with a newline, and a URL refuses it (the calls were lost).
    return os.environ.get("LINEAGE_STORE", "").strip() or None


def workspace_name(explicit: Optional[str] = None) -> str:
    if explicit is not None:
        return explicit
    if _settings.workspace is not None:
        return _settings.workspace
    env = _stripped(os.environ.get("LINEAGE_WORKSPACE"))
    return _checked_env("LINEAGE_WORKSPACE", env, check_workspace_name) if env else DEFAULT_WORKSPACE


def _stripped(value: Optional[str]) -> Optional[str]:
    """A name read from an environment variable, without white space around
    it (as LINEAGE_STORE's URL): a value read from a file (a Kubernetes secret) ends with
    a newline, and 'mnist\\n' was a workspace of its own, where `lineage ls -w
    mnist` found nothing. A blank one is kept, to be refused by its check."""
    return value.strip() or value if value else value


# The last value of each name variable found good: checked once, not per call.
_env_names_checked: Dict[str, str] = {}


def _checked_env(variable: str, value: str, check: Callable[[str, Any], None]) -> str:
    """*value* of the environment *variable*, if a name MLMD can store.

    Raises:
        InvalidValueError: naming the variable and the value (a tracked
            call says it in its warning and is not recorded, as for a bad
            ``workspace=``).
    """
    if _env_names_checked.get(variable) != value:
        check(f"the {variable} environment variable", value)
        _env_names_checked[variable] = value
    return value


def run_name(explicit: Optional[str] = None) -> str:
    """The run of this process: named, or made once per process."""
    if explicit is not None:
        return explicit
    if _settings.run is not None:
        return _settings.run
    env = _stripped(os.environ.get("LINEAGE_RUN"))
    if env:
        return _checked_env("LINEAGE_RUN", env, check_optional_name)
    pid = os.getpid()
    with _lock:
        name = _process_run.get(pid)
        if name is None:
            stamp = datetime.datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
            name = _process_run[pid] = f"{stamp} {socket.gethostname()} pid {pid}"
        return name


def strict() -> bool:
    # init(strict=False) decides over LINEAGE_STRICT=1, as init() does over
    # every variable (it was strict all the same: a test of a store down raised).
    if _settings.strict is not None:
        return _settings.strict
    return _env.flag("LINEAGE_STRICT", False)


def cached_store(url: Optional[str]) -> Any:
    """The shared :class:`lineage.Store` for a URL (settings/env resolved)."""
    key = (url, os.getpid())
    with _lock:
        store = _stores.get(key)
        if store is None:
            # Imported here, not at each call: lineage.workspace imports this module.
            from lineage.workspace import Store

            store = _stores[key] = Store(url=url) if url is not None else Store()
        return store


def forget_store(url: Optional[str]) -> None:
    """Drop the shared Store for *url*: the next tracked call makes a new
    one (for ``memory://``, a new empty database)."""
    with _lock:
        store = _stores.pop((url, os.getpid()), None)
        if store is not None:
            for key in [k for k in _contexts if k[0] is store]:
                del _contexts[key]


def first_warning(cause: Any) -> bool:
    """True the first time *cause* is seen in this process."""
    with _warned_lock:
        if cause in _warned:
            return False
        _warned.add(cause)
        return True


def contexts_for(store: Any, workspace: str, run: str) -> Any:
    """The shared (Workspace, Run) objects for a store, workspace and run."""
    key = (store, workspace, run, os.getpid())
    found = _contexts.get(key)
    if found is not None:
        return found  # the common case: no import statement run (~3 us a call)
    from lineage.workspace import Run, Workspace

    ws_key = (store, workspace, os.getpid())
    ws = _contexts.get(ws_key)
    if ws is None:
        ws = Workspace._lazy(store, workspace)
    run_obj = Run._lazy(ws, run)
    with _lock:
        _contexts.setdefault(ws_key, ws)
        _contexts.setdefault(key, (ws, run_obj))
        return _contexts[key]
