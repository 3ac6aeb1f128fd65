"""Numbers and yes/no flags read from environment variables, checked once per value."""

from __future__ import annotations

import math
import os
from typing import Dict, Set, Tuple

from lineage.errors import warn_never_raised

_warned: Set[Tuple[str, str]] = set()
#: The most seconds a wait is given (about 31 years: "forever"); a socket, a
#: sleep or a lock's wait refuse much more (OverflowError, or EINVAL).
MAX_SECONDS = 1e9


def number(name: str, default: float, *, minimum: float = 0.0, above: bool = False, integer: bool = False) -> float:
    """The number in the environment variable *name*; *default* when unset or empty.

    A value that is not a finite number (an integer with *integer*), or is
    below *minimum* (at or below it with *above*), would make lineage fail
    later, far from its cause (a negative timeout) or do something else than
    meant (``1GB``): it is reported with a LineageWarning naming the
    variable and the value, once per value, and *default* is used. A number
    of seconds (not *integer*) past MAX_SECONDS is taken as MAX_SECONDS.
    """
    text = os.environ.get(name, "").strip()
    if not text:
        return default
    try:
        value: float = int(text) if integer else float(text)
    except ValueError:
        value = math.nan
    # an int of any size is finite (math.isfinite would overflow past 1e308)
    if (isinstance(value, int) or math.isfinite(value)) and (value > minimum if above else value >= minimum):
        # 1e300 (a wait with no end) made every wait raise OverflowError: a
        # connect timeout lost the call's record, a spool retry its replay.
        return value if integer else min(value, MAX_SECONDS)
    if (name, text) not in _warned:
        _warned.add((name, text))
        kind = "an integer" if integer else "a number"
        bound = f"> {minimum:g}" if above else f">= {minimum:g}"
        used = str(int(default)) if integer else f"{default:g}"  # 1073741824, not 1.07374e+09
        warn_never_raised(f"{name}={text!r} is not {kind} {bound}; lineage uses {used} instead")
    return default


_flags: Dict[str, bool] = {}  # the text of a yes or no -> which
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def flag(name: str, default: bool) -> bool:
    """The yes/no in the environment variable *name*; *default* when unset or empty.

    Takes 1/true/yes/on and 0/false/no/off (any case). Another value
    (``LINEAGE_STRICT=2``, ``LINEAGE_HASH=maybe``) is reported with a
    LineageWarning naming the variable and the value, once per value, and
    *default* is used (read inside tracked calls: never raised, also where
    warnings are errors, see errors.warn_never_raised).
    """
    raw = os.environ.get(name, "")
    # Read per write (LINEAGE_STRICT): a yes or no is parsed once per text.
    known = _flags.get(raw)
    if known is not None:
        return known
    text = raw.strip()
    if not text:
        return default
    lowered = text.lower()
    if lowered in _TRUE or lowered in _FALSE:
        _flags[raw] = lowered in _TRUE
        return _flags[raw]
    if (name, text) not in _warned:
        _warned.add((name, text))
        choices = f"{'/'.join(_TRUE)} or {'/'.join(_FALSE)}"
        warn_never_raised(f"{name}={text!r} is not one of {choices}; lineage uses {'1' if default else '0'} instead")
    return default
