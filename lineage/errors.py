"""Exceptions raised by lineage.

Every exception lineage raises derives from :class:`LineageError`, and also
from the builtin that matches its meaning, so ``except ValueError`` in user
code keeps working::

    LineageError(Exception)
    ├── InvalidTypeError(LineageError, TypeError)      wrong type for a field or argument
    │   └── (a record's uri or name: also a ValueError, as the Kubeflow SDK raised)
    ├── InvalidValueError(LineageError, ValueError)    right type, unusable value
    │   ├── InvalidStoreURLError                       unknown scheme or missing part of a store URL
    │   ├── ReservedPropertyError                      __kf_workspace__, __kf_run__ in user properties
    │   ├── WorkspaceExistsError                       reuse_workspace_if_exists=False and it exists
    │   └── UnknownArtifactError                       an artifact id that the store does not hold
    └── StoreError(LineageError, RuntimeError)         the store failed; carries the MLMD error
        └── StoreUnavailableError                      the store could not be reached in the retry budget

    LineageWarning(UserWarning)                        lineage failed and let the user's code go on

Errors in the first branch are the caller's mistakes and are raised at the
call that made them. ``StoreError`` is lineage's own failure: the declarative
layer never lets it reach the user's function.
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Optional

__all__ = [
    "InvalidStoreURLError",
    "InvalidTypeError",
    "InvalidValueError",
    "LineageError",
    "LineageWarning",
    "ReservedPropertyError",
    "StoreError",
    "StoreUnavailableError",
    "UnknownArtifactError",
    "WorkspaceExistsError",
]


class LineageError(Exception):
    """Base class of every error raised by lineage."""


class InvalidTypeError(LineageError, TypeError):
    """A field or argument has the wrong type."""


class InvalidValueError(LineageError, ValueError):
    """A field or argument has the right type but an unusable value."""


class _RequiredFieldTypeError(InvalidTypeError, ValueError):
    """A record's ``uri`` or ``name`` is not a str.

    The Kubeflow SDK raised ValueError for it ("'uri' must be set and in
    string type"), so code written for it catches ValueError
    (``DataSet(uri=pathlib.Path(...))``); it is still a TypeError too.
    """


class _NoSuchFieldError(InvalidValueError, AttributeError):
    """An attribute that is no field was set on a built-in record
    (``model.accuracy = 0.9``): the Kubeflow SDK kept any attribute in
    ``__ALL_META__``, lineage's records have fixed fields. Still the
    AttributeError Python raises for it."""


class InvalidStoreURLError(InvalidValueError):
    """A store URL has an unknown scheme or misses a required part."""


class ReservedPropertyError(InvalidValueError):
    """A user property uses a name that lineage reserves for itself."""


class WorkspaceExistsError(InvalidValueError):
    """A workspace with this name exists and reuse was not allowed."""


class UnknownArtifactError(InvalidValueError):
    """An artifact carries an id that the store does not hold."""


class StoreError(LineageError, RuntimeError):
    """The metadata store failed to carry out a request."""

    def __init__(self, message: str, *, cause: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.cause = cause


class StoreUnavailableError(StoreError):
    """The store could not be reached within the retry budget.

    Attributes:
        refusal: why the server refused the connection, when it answered and
            did (a TLS setting of the URL that does not match the server's):
            a configuration to fix, not a server down. None otherwise.
        overload: what the server answered when it took the call and had no
            room for it (``RESOURCE_EXHAUSTED: Concurrent RPC limit
            exceeded!``, a quota): a server that answers, overloaded for now,
            not one down. None otherwise.
    """

    def __init__(
        self,
        message: str,
        *,
        cause: Optional[BaseException] = None,
        refusal: Optional[str] = None,
        overload: Optional[str] = None,
    ) -> None:
        super().__init__(message, cause=cause)
        self.refusal = refusal
        self.overload = overload


class LineageWarning(UserWarning):
    """lineage could not record something and let the user's code go on."""


def describe(value: Any, limit: int = 80) -> str:
    """Return a short ``repr`` of *value* for an error message."""
    try:
        text = repr(value)
    except Exception as exc:  # a broken __repr__; an int past Python's digit limit for str()
        if isinstance(value, int):
            text = f"<an int of {value.bit_length()} bits>"
        else:
            text = f"<repr() failed: {type(exc).__name__}>"
    if len(text) > limit:
        text = text[: limit - 3] + "..."
    return f"{text} ({type(value).__name__})"


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message: str, *, again: bool = False) -> None:
    """Issue a LineageWarning at the user's line: the first caller outside
    lineage, wrapt and attrs (a fixed stacklevel pointed into lineage's own code,
    which differs from path to path).

    *again*: the caller keeps it to once per event itself (the spool: once
    per outage), and an event that happens again is told again. Python's
    default filter shows a warning once per text and line: the same words
    at the same line (a store down a second time, its writes in memory
    again) were not shown."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and (
        frame.f_code.co_filename.startswith((_PACKAGE, "<attrs generated"))
        or f"{os.sep}wrapt{os.sep}" in frame.f_code.co_filename
    ):
        frame = frame.f_back
        level += 1
    if again:
        # As warnings.warn at that frame, without the frame's registry of the
        # warnings shown there (the filters still apply: "ignore", "error", "once").
        # No module_globals: warn_explicit then asks the module's loader for
        # its source at once, and raised ImportError for `python -c`'s __main__.
        warnings.warn_explicit(
            message,
            LineageWarning,
            frame.f_code.co_filename,
            frame.f_lineno,
            module=frame.f_globals.get("__name__", "<string>"),
            registry=None,
        )
        return
    warnings.warn(message, LineageWarning, stacklevel=level)


def warn_never_raised(message: str, *, again: bool = False) -> bool:
    """Warn about lineage's own state (its failure, the store it writes to)
    from inside the user's call: where warnings are errors (``python -W
    error``, pytest's ``filterwarnings = error``) the warning is logged at
    ERROR on the ``lineage`` logger instead of raised. A failure of lineage
    never raises into the user's code (it had: the call's result was lost
    to a LineageWarning saying "your code goes on"); ``LINEAGE_STRICT=1``
    is the switch that raises them.

    Returns:
        True when it was logged instead: a caller that logs it too when
        logging is set up does not (it was in the log twice, as a WARNING
        and as an ERROR). *again*: see warn.
    """
    try:
        warn(message, again=again)
    except LineageWarning:
        import logging

        logging.getLogger("lineage").error("%s", message)
        return True
    return False
