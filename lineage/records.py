"""Records: the artifacts lineage logs, as small attrs classes.

``DataSet``, ``Model`` and ``Metrics`` keep the Kubeflow Metadata SDK's
constructor arguments (all keyword), so code written for
``kubeflow.metadata.metadata`` keeps working. Extra keyword arguments are
kept in ``extra`` and stored as extra properties.

A custom artifact type is an attrs subclass with its own type name and typed
fields::

    @attrs.define
    class Checkpoint(lineage.Artifact):
        ARTIFACT_TYPE_NAME = "acme.org/checkpoint"
        step: int = 0
        loss: float = 0.0
        config: dict = attrs.Factory(dict)

Its fields become typed MLMD properties (str -> STRING, int -> INT,
float -> DOUBLE, bool -> BOOLEAN, dict/list -> STRUCT; datetime and date
-> STRING of ISO 8601 text, an Enum -> the kind of its members' values,
read back as the datetime, date or member: FieldSpec.held), checked when a
record is made, when a field is set and when it is logged. A type name
belongs to one set of fields: a second class with it and other fields is
refused when first used, unless it is the same class defined again (same
module and name: a notebook cell run again). No field may be named
``kwargs``, the Kubeflow layout's name for the extra properties, nor
like a field of lineage's own (``uri``, ``name``, ...). A class
written as the built-in ones are, ``@attrs.define(init=False)``, inherits
their ``__init__``: its fields are set by their keywords, and the other
keywords are extra properties.

This module knows nothing of MLMD; ``lineage.store`` turns records into
protos and back using :func:`schema_of`.
"""

from __future__ import annotations

import collections.abc
import datetime
import enum
import functools
import json
import keyword
import math
import re
import sys
import threading
import time
import types
import typing
import unicodedata
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Tuple

import attrs

from lineage._fork import renew_after_fork
from lineage.errors import (
    InvalidTypeError,
    InvalidValueError,
    LineageError,
    ReservedPropertyError,
    _NoSuchFieldError,
    _RequiredFieldTypeError,
    describe,
    warn,
)

__all__ = [
    "Artifact",
    "DataSet",
    "FieldSpec",
    "Metrics",
    "Model",
    "RecordSchema",
    "RESERVED_PROPERTY_NAMES",
    "field_names",
    "record_class_for",
    "schema_of",
]

#: Custom property names lineage writes itself; user properties may not use them.
RESERVED_PROPERTY_NAMES = frozenset({"__kf_workspace__", "__kf_run__", "__ALL_META__"})
_RESERVED_PREFIXES = ("__kf_", "__lineage", "lineage.")
# As MySQL compares them (see property_name_key): "LINEAGE.END_TIME" too.
_RESERVED_KEYS = frozenset(name.lower() for name in RESERVED_PROPERTY_NAMES)

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
# MLMD's tightest column sizes across its backends: string properties are
# MEDIUMTEXT and property names VARCHAR(255) on MySQL; PostgreSQL indexes the
# uri and string property values in btrees whose rows hold at most 2704
# bytes (the store keeps longer property values out of those indexes, but a
# uri cannot move). One limit for every backend, so a store can move.
MAX_INDEXED_BYTES = 2000
MAX_URI_BYTES = MAX_INDEXED_BYTES
MAX_TEXT_BYTES = 16 * 1024 * 1024 - 1
# Property names are VARCHAR(255) on PostgreSQL and MySQL (bytes of UTF-8 there).
MAX_NAME_BYTES = 255
# Context names are VARCHAR(255) on PostgreSQL and MySQL (MLMD's MySQL client
# sends UTF-8 bytes as latin1 characters: 255 bytes of UTF-8 there).
MAX_CONTEXT_NAME_BYTES = 255
# Nested values are also stored as MLMD struct properties, and protobuf
# refuses messages nested more than 100 deep: a dict level costs 3 (Struct,
# map entry, Value), so 33 levels is the most a struct can hold.
_MAX_JSON_DEPTH = 32

# Field kinds, mapped to MLMD property types by the store codec.
STR, INT, FLOAT, BOOL, JSON = "str", "int", "float", "bool", "json"


# (whole second, its text): formatting a timestamp is done once a second.
_second: Tuple[int, str] = (-1, "")


def _now() -> str:
    """The time now as the Kubeflow SDK wrote ``create_time``: RFC 3339 in
    UTC with a "Z" suffix, always with microseconds (so the texts sort)."""
    global _second
    micros = time.time_ns() // 1000
    whole, fraction = divmod(micros, 1_000_000)
    second = _second
    if second[0] != whole:
        second = _second = (whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)))
    return f"{second[1]}.{fraction:06d}Z"


# --------------------------------------------------------------------------- validation


def _where(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def _check_str(where: str, value: Any, *, required: bool) -> None:
    if value is None:
        if required:
            raise InvalidValueError(f"{where} is required: got None")
        return
    if not isinstance(value, str):
        raise (_RequiredFieldTypeError if required else InvalidTypeError)(f"{where} must be a str, got {describe(value)}")
    if required and not value.strip():
        raise InvalidValueError(f"{where} must be a non-empty string, got {value!r}")
    check_text(where, value)


def check_text(where: str, value: str, max_bytes: int = MAX_TEXT_BYTES) -> None:
    """Raise unless *value* can be stored: MLMD sends strings as UTF-8.

    A lone surrogate (``"\\ud800"``, e.g. from ``os.fsdecode`` of a bad file
    name) would otherwise only fail later, inside the write; so would a
    string longer than the backend's column (*max_bytes*).
    """
    try:
        size = len(value.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidValueError(f"{where} must be valid Unicode text (no lone surrogates), got {describe(value)}") from None
    if size > max_bytes:
        raise InvalidValueError(f"{where} is {size} bytes of UTF-8; MLMD stores at most {max_bytes} here, got {describe(value)}")


def _fast_ok(value: Any, max_bytes: int) -> bool:
    # The common case, checked without building an error location: a short
    # ASCII string (no surrogates, one byte per character) that is not blank.
    return type(value) is str and value.isascii() and 0 < len(value) <= max_bytes and not value.isspace()


def _required_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    limit = MAX_URI_BYTES if attribute.name == "uri" else MAX_TEXT_BYTES
    if _fast_ok(value, limit):
        return
    if value is None:
        # Validators run once every field is set: a misspelt keyword is in extra.
        close = _close_keys(attribute.name, getattr(instance, "extra", None))
        if close:
            raise InvalidValueError(
                f"{_where(instance, attribute)} is required: got None "
                f"(and an extra property {close[0]!r}: a misspelling of {attribute.name!r}?)"
            )
    _check_str(_where(instance, attribute), value, required=True)
    if attribute.name == "uri":
        check_text(_where(instance, attribute), value, MAX_URI_BYTES)


def _optional_str(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None or _fast_ok(value, MAX_TEXT_BYTES):
        return
    _check_str(_where(instance, attribute), value, required=False)


#: Fields an extra key is not taken for a misspelling of: no keyword sets
#: them, or (workspace) they are usually left unset, and names like
#: ``workspace_id`` are common.
_NOT_KEYWORDS = frozenset({"extra", "id", "create_time", "workspace"})


def _init_plain(record: Any, strings: Dict[str, Any]) -> bool:
    """Build a built-in record whose fields other than *strings* are at their
    defaults, without running each validator: when ``uri`` and ``name`` are
    short ASCII strings and every other string is None or one too (what the
    validators accept at once). Returns False, setting nothing, otherwise."""
    for key, value in strings.items():
        if value is None:
            if key == "uri" or key == "name":
                return False
        elif not _fast_ok(value, MAX_URI_BYTES if key == "uri" else MAX_TEXT_BYTES):
            return False
    cls = type(record)
    plan = _plain_plans.get(cls)
    if plan is None:
        plan = _plain_plans[cls] = _plain_plan(cls, strings)
    given, nones, extra, create_time = plan
    for put, key in given:
        put(record, strings[key])
    for put in nones:
        put(record, None)
    if extra is not None:
        extra(record, {})
    if create_time is not None:
        create_time(record, _now())
    return True


#: Per built-in record class, how _init_plain sets its fields (its
#: __init__ passes the same *strings* keys at every call): the slot setters
#: of the fields given in *strings*, with their keys; of those left None;
#: of ``extra`` and ``create_time``.
_plain_plans: Dict[type, Tuple[Tuple[Tuple[Any, str], ...], Tuple[Any, ...], Any, Any]] = {}


def _plain_plan(cls: type, strings: Dict[str, Any]) -> Tuple[Tuple[Tuple[Any, str], ...], Tuple[Any, ...], Any, Any]:
    given: List[Tuple[Any, str]] = []
    nones: List[Any] = []
    extra: Any = None
    create_time: Any = None
    for name in field_names(cls):
        put = _slot_setter(cls, name)
        if name in strings:
            given.append((put, name))
        elif name == "extra":
            extra = put
        elif name == "create_time":
            create_time = put
        else:
            nones.append(put)
    return tuple(given), tuple(nones), extra, create_time


def _slot_setter(cls: type, name: str) -> Any:
    """What ``object.__setattr__(record, name, value)`` does for a field of
    *cls*, as a function of (record, value): the setter of the field's slot,
    called directly. object.__setattr__ first walks the class's bases (a
    check that it is not bypassing a C type's own __setattr__) at every
    call: a third of a record's construction, field by field."""
    found = None
    for klass in cls.__mro__:
        found = klass.__dict__.get(name)
        if found is not None:
            break
    if isinstance(found, types.MemberDescriptorType):
        return found.__set__
    return lambda record, value: object.__setattr__(record, name, value)  # not a slot: the general way


def _extra_of(kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """The extra properties of a built-in record's keyword arguments. An
    ``extra=`` mapping among them is merged in, not kept as one property
    named "extra": ``attrs.evolve`` passes the record's ``extra`` so, and it
    came back nested one level deeper each time."""
    nested = kwargs.get("extra")
    if not isinstance(nested, Mapping):
        return kwargs
    merged = dict(nested)
    merged.update((key, value) for key, value in kwargs.items() if key != "extra")
    return merged


_fields_by_class: Dict[type, Tuple[str, ...]] = {}


def field_names(cls: type) -> Tuple[str, ...]:
    """The attrs field names of a record class (cached)."""
    names = _fields_by_class.get(cls)
    if names is None:
        names = _fields_by_class[cls] = tuple(field.name for field in attrs.fields(cls))
    return names


_declared_by_class: Dict[type, Tuple[str, ...]] = {}


def _declared_keywords(record: Any, kwargs: Dict[str, Any]) -> Dict[str, Any]:
    """Take out of a built-in __init__'s *kwargs* the arguments of the
    declared fields of a custom class that inherits that __init__ (one
    written as the built-in classes are, ``@attrs.define(init=False)``):
    they set the fields, not extra properties (the field was left at its
    default, without a word)."""
    cls = type(record)
    if cls in _BUILTIN_RECORDS:
        return {}
    names = _declared_by_class.get(cls)
    if names is None:
        inherited = set(field_names(_builtin_ancestor(cls)))
        names = _declared_by_class[cls] = tuple(
            field.alias for field in attrs.fields(cls) if field.init and field.name not in inherited
        )
    return {name: kwargs.pop(name) for name in names if name in kwargs}


def _attrs_init(record: Any, kwargs: Dict[str, Any]) -> Any:
    """*record*'s ``__attrs_init__``, given the arguments of its class's
    declared fields taken out of a built-in __init__'s *kwargs* (see
    :func:`_declared_keywords`). Called with ``**own`` always, the built-in
    records were made some 15% slower (Metrics, Artifact): every keyword
    went through a dict, most often for no field."""
    own = _declared_keywords(record, kwargs) if kwargs else None
    if own:
        return functools.partial(record.__attrs_init__, **own)
    return record.__attrs_init__


def check_json(where: str, value: Any, _depth: int = 0) -> None:
    """Raise unless *value* is JSON-able data lineage can store exactly.

    Allowed: None, bool, int, finite float, str, and lists, tuples and dicts
    (with str keys) of those.
    """
    if _depth > _MAX_JSON_DEPTH:
        raise InvalidValueError(f"{where} is nested more than {_MAX_JSON_DEPTH} levels deep")
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        check_text(where, value)
        return
    if isinstance(value, int):
        # Nested numbers are also stored in an MLMD struct, as doubles.
        try:
            float(value)
        except OverflowError:
            raise InvalidValueError(f"{where} is too large to store as a number, got {describe(value)}") from None
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValueError(f"{where} must be a finite number, got {value!r}")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_json(f"{where}[{i}]", item, _depth + 1)
        return
    if isinstance(value, collections.abc.Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidTypeError(f"{where} keys must be str, got key {describe(key)}{_as_the_sdk_stored(key)}")
            check_text(f"{where} key", key)
            check_json(f"{where}[{key!r}]", item, _depth + 1)
        return
    raise InvalidTypeError(f"{where} must be JSON-able data (None, bool, int, float, str, list, dict), got {describe(value)}")


def _as_the_sdk_stored(key: Any) -> str:
    """What the Kubeflow SDK's json.dumps made of a key that is no str (it
    stored {1: 0.9} as {"1": 0.9}), for the error that refuses it: a record
    read back would not equal the one logged."""
    try:
        [stored] = json.loads(json.dumps({key: None}))
    except (TypeError, ValueError):
        return ""  # a key json refuses too (a tuple)
    return f" (the Kubeflow SDK stored it as the str {stored!r}: write that)"


def plain_json(value: Any, _depth: int = 0) -> Any:
    """A copy of *value* with every mapping a dict and every tuple a list.

    Records hold what JSON gives back, so a record read from the store equals
    the one that was logged, and ``json`` can write any mapping (it refuses
    a ``MappingProxyType`` or a custom ``Mapping``). Anything else is left for
    the validators to judge.
    """
    if value is None:
        return None
    if _depth > _MAX_JSON_DEPTH:
        return value  # the validator reports the depth
    if isinstance(value, collections.abc.Mapping):
        return {key: plain_json(item, _depth + 1) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain_json(item, _depth + 1) for item in value]
    return value


def _plain_extra(value: Any) -> Any:
    if type(value) is dict and not value:
        return {}
    if not isinstance(value, collections.abc.Mapping):
        return value  # the validator reports it
    return {key: plain_json(item) for key, item in value.items()}


def _optional_mapping(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    where = _where(instance, attribute)
    if not isinstance(value, collections.abc.Mapping):
        raise InvalidTypeError(f"{where} must be a mapping, got {describe(value)}")
    check_json(where, value)


def _metric_values(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    """As _optional_mapping, but a metric (or a hyperparameter) may be NaN or
    infinite, at any depth (a loss curve of a run that diverged), as the
    Kubeflow SDK took it: kept in the record's JSON, without a typed copy."""
    # Only inside the mapping: values=nan is no mapping, and said so.
    _optional_mapping(instance, attribute, _finite_or_none(value) if isinstance(value, collections.abc.Mapping) else value)


def _finite_or_none(value: Any, _depth: int = 0) -> Any:
    """*value* with NaN and infinities as None, for check_json."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _depth > _MAX_JSON_DEPTH:  # check_json says so
        return value
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(item, _depth + 1) for item in value]
    if isinstance(value, collections.abc.Mapping):
        return {key: _finite_or_none(item, _depth + 1) for key, item in value.items()}
    return value


def _optional_json(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    check_json(_where(instance, attribute), value)


# MLMD's MySQL client sends UTF-8 bytes as latin1 (MySQL's latin1 is cp1252)
# characters; the bytes cp1252 leaves out stay as they are.
_AS_MYSQL_LATIN1 = "".join(
    bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in range(256)
)


def property_name_key(name: str) -> str:
    """What MySQL compares of a property name: it ignores case and trailing
    spaces, so two names with the same key cannot both be stored on one node.
    A name not in ASCII is compared as MLMD's client sends it (its UTF-8
    bytes as latin1 characters) and without accents: "yaş" and "yağ" arrive
    as "yaÅŸ" and "yaÄŸ", one name there ("é" and "É", as "Ã©" and "Ã‰",
    are two)."""
    if name.isascii():
        return name.rstrip(" ").lower()
    sent = name.encode("utf-8", "surrogatepass").decode("latin-1").translate(_AS_MYSQL_LATIN1)
    bare = "".join(c for c in unicodedata.normalize("NFKD", sent) if not unicodedata.combining(c))
    return bare.rstrip(" ").lower()


def stored_name_bytes(name: str) -> int:
    """UTF-8 bytes of a name as the store keeps it, at most: NUL and
    backslash are escaped there as 4 bytes, U+E000 as 4."""
    return len(name.encode("utf-8")) + 3 * (name.count("\\") + name.count("\x00")) + name.count("\ue000")


def check_property_name(where: str, key: Any) -> None:
    """Raise unless *key* may name a user's extra property."""
    if not isinstance(key, str):
        raise InvalidTypeError(f"{where} names must be str, got {describe(key)}")
    if not key:
        raise InvalidValueError(f"{where} names must be non-empty, got {key!r}")
    check_text(f"{where} name", key)
    if (len(key) > MAX_NAME_BYTES // 4 or not key.isascii()) and stored_name_bytes(key) > MAX_NAME_BYTES:
        raise InvalidValueError(
            f"{where} names are at most {MAX_NAME_BYTES} bytes of UTF-8 (MLMD's property name column), "
            f"got {stored_name_bytes(key)}: {describe(key)}"
        )
    if is_reserved_property_name(key):
        raise ReservedPropertyError(
            f"{where} uses the reserved property name {key!r}: names "
            f"{sorted(RESERVED_PROPERTY_NAMES)} and those starting with "
            f"{' or '.join(_RESERVED_PREFIXES)} belong to lineage"
        )


def is_reserved_property_name(name: str) -> bool:
    """Whether *name* is a property name lineage keeps for itself (see
    check_property_name)."""
    folded = property_name_key(name)
    return folded in _RESERVED_KEYS or folded.startswith(_RESERVED_PREFIXES)


def looks_misspelt(key: str, field: str) -> bool:
    """Whether *key* is *field* with one slip (two for names of 8 or more
    characters): a letter left out, added, changed, or two swapped
    (``verison``, ``ownr``, ``value`` for ``values``). A name built on the
    field (``version_id``, ``model`` beside ``model_id``) is not."""
    if key == field or abs(len(key) - len(field)) > 2:
        return False
    return _slips(key, field) <= (1 if len(field) < 8 else 2)


def _slips(a: str, b: str) -> int:
    """Edits from *a* to *b*: insertions, deletions, substitutions and swaps
    of neighbours (the optimal string alignment distance)."""
    before: list = []
    row = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            current[j] = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        before, row = row, current
    return row[len(b)]


def _close_keys(name: str, keys: Any) -> list:
    """The keys of *keys* that look like a misspelling of the field *name*."""
    if not isinstance(keys, collections.abc.Mapping) or not keys:
        return []
    return [k for k in keys if isinstance(k, str) and looks_misspelt(k, name)][:1]


def _extra(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if type(value) is dict and not value:
        return
    where = _where(instance, attribute)
    if not isinstance(value, collections.abc.Mapping):
        raise InvalidTypeError(f"{where} must be a mapping, got {describe(value)}")
    for field in field_names(type(instance)):
        if field in _NOT_KEYWORDS or getattr(instance, field, None) is not None:
            continue
        close = _close_keys(field, value)
        if close:
            # Kept, as the Kubeflow SDK kept any keyword; said, since the field stays unset.
            warn(
                f"{type(instance).__name__}({close[0]}=...) is kept as an extra property, "
                f"and {type(instance).__name__}.{field} is unset: a misspelling of {field!r}?"
            )
    check_extra_items(where, value)


def check_extra_items(where: str, value: Mapping[str, Any]) -> None:
    """Raise unless every extra property can be stored (see _extra)."""
    seen: Dict[str, str] = {}
    for key, item in value.items():
        check_property_name(where, key)
        check_int64(f"{where}[{key!r}]", item)
        check_json(f"{where}[{key!r}]", item)
        other = seen.setdefault(property_name_key(key), key)
        if other != key:
            raise InvalidValueError(
                f"{where} names {other!r} and {key!r} differ only in case or trailing spaces: "
                "MLMD on MySQL cannot keep both (refused on every backend, so that a store can move)"
                if other.isascii() and key.isascii()
                else f"{where} names {other!r} and {key!r} are one name as MLMD on MySQL compares them "
                "(case, accents and trailing spaces aside, once its client sends them as latin1): "
                "it cannot keep both (refused on every backend, so that a store can move)"
            )


def check_int64(where: str, value: Any) -> None:
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _INT64_MAX:
        raise InvalidValueError(f"{where} must fit in a signed 64-bit integer, got {describe(value)}")


def _optional_id(instance: Any, attribute: attrs.Attribute[Any], value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidTypeError(f"{_where(instance, attribute)} must be an int, got {describe(value)}")
    if value <= 0:
        raise InvalidValueError(f"{_where(instance, attribute)} must be positive, got {value!r}")


def _id_to_str(value: Any) -> Any:
    # Kubeflow declared data_set_id/model_id as strings but artifact ids are
    # ints; accept both.
    if isinstance(value, int) and not isinstance(value, bool):
        # An id past 64 bits is no MLMD id: left an int, for the validator to
        # name the field (str() of one past 4,300 digits raised a bare ValueError).
        return str(value) if value.bit_length() < 64 else value
    return value


# --------------------------------------------------------------------------- definitions


#: The custom record class of each type name as last defined (see
#: Artifact.__init_subclass__): what an artifact of the type is read back as.
_CLAIMED: Dict[str, type] = {}


def _own_type_name(cls: type) -> Any:
    """The type name a class declares itself (a subclass does not inherit
    its base's), else its qualified name."""
    type_name = cls.__dict__.get("ARTIFACT_TYPE_NAME")
    return cls.__qualname__ if type_name is None else type_name


def _full_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _claim_type_name(cls: type) -> None:
    """Note *cls* as the class of its type name, the latest definition (a
    notebook cell run again, a module reloaded). A clash with another
    class's fields is refused when the class is first used
    (_check_type_name_free), not here."""
    type_name = cls.__dict__.get("ARTIFACT_TYPE_NAME")
    if cls.__module__ == __name__ or not isinstance(type_name, str) or type_name in _BUILTIN_TYPE_NAMES:
        return  # lineage's own classes; schema_of refuses a bad or built-in name
    # Only noted here, the latest definition (read back as it): refused at a
    # definition, a module imported twice (run as __main__ and imported by
    # name) and attrs.make_class (a class of module "types" first) failed.
    if "__attrs_attrs__" in cls.__dict__:
        _CLAIMED[type_name] = cls


def _check_type_name_free(cls: type, type_name: str, known: Optional[type], properties: Tuple[Any, ...]) -> None:
    """Refuse, when *cls* is first used, a type name another class in use
    has with other fields: an artifact would be read back as one of the
    two. The same class again (a module imported twice, a notebook cell run
    again: same name and fields) and a class lineage made for a stored type
    are no clash."""
    if known is None or known.__dict__.get("_MADE_AS") is not None:
        return
    known_schema = _SCHEMAS.get(known)
    if known_schema is not None and {(p.name, p.kind) for p in known_schema.properties} == {(p.name, p.kind) for p in properties}:
        return  # the same fields of the same kinds (stored alike): one class defined twice
    if _full_name(known) != _full_name(cls):
        raise InvalidValueError(
            f"{_full_name(cls)} has the ARTIFACT_TYPE_NAME {type_name!r} of {_full_name(known)}: "
            "an artifact of that type would be read back as one of the two classes, without the fields "
            "of the other; give each class its own type name"
        )


#: Artifact's class settings: a subclass sets them as class attributes.
_CLASS_SETTINGS = ("ARTIFACT_TYPE_NAME", "BASE_TYPE", "DEDUPLICATE", "KUBEFLOW_PROPERTIES")


def _check_field_names(cls: type) -> None:
    """Refuse a field the Kubeflow layout cannot store under its name.

    The Kubeflow SDK stored ``json.dumps(self.__dict__)``, whose "kwargs" are
    the extra properties (``Artifact.kwargs``): a field of that name would
    be written as a second "kwargs" and read back as the extra properties,
    by lineage and by the old SDK. Seen among the class body's annotations
    when the class is defined, and among its attrs fields when it is used.
    """
    body = cls.__dict__
    # A field: annotated, or an attrs field (a property or method overriding
    # Artifact.kwargs is no field).
    in_body = "kwargs" in body.get("__annotations__", {})
    if in_body or ("__attrs_attrs__" in body and "kwargs" in attrs.fields_dict(cls)):  # type: ignore[arg-type]
        raise ReservedPropertyError(
            f"{cls.__qualname__}.kwargs: a record field may not be named 'kwargs', the Kubeflow layout's "
            "name for the extra properties (their key in __ALL_META__, and Artifact.kwargs); "
            "give the field another name"
        )
    # A field (or class attribute) named as one of lineage's own replaced it
    # and its checks (uri: int took uri=5, and the write failed), or was
    # dropped (description = "..." on a slotted class).
    own = [field for field in attrs.fields(cls) if not field.inherited] if "__attrs_attrs__" in body else []  # type: ignore[arg-type]
    for field in own:
        if field.name in _CLASS_SETTINGS:
            # Not the class's setting (read from the class): a slot, or a
            # property of its records under a type named after the class.
            raise InvalidTypeError(
                f"{cls.__qualname__}.{field.name} is annotated as a field: a class setting is a class attribute; "
                f"write {field.name} = ... without an annotation, or annotate it ClassVar"
            )
    for base in cls.__mro__[1:]:
        if base.__module__ != __name__ or "__attrs_attrs__" not in base.__dict__ or "_MADE_AS" in base.__dict__:
            continue
        for field in attrs.fields(base):
            if field.name in body or any(f.name == field.name for f in own):
                raise ReservedPropertyError(
                    f"{cls.__qualname__}.{field.name}: a record field may not redefine lineage's field "
                    f"{field.name!r} of {base.__name__} (its checks would be lost); set it when making "
                    "a record, or give the field another name"
                )


# --------------------------------------------------------------------------- records


#: (what a record's copy carries of how it was logged, and what gives a copy
#: that): set by the store layer, which keeps that (records know nothing of it).
copy_hooks: Optional[Tuple[Any, Any]] = None


def _rebuilt(cls: Any, logged: Any = None) -> Any:
    """An empty record of *cls* for a copy or an unpickled one (its fields are
    set after: ``__setstate__``), given how its original was logged."""
    record = cls.__new__(cls)
    if logged is not None and copy_hooks is not None:
        copy_hooks[1](record, logged)
    return record


def _attrs_made(method: Any) -> bool:
    """Whether *method* is attrs' (or object's default, or none): not one a user wrote."""
    if method is None or method is object.__getstate__:
        return True
    module = getattr(method, "__module__", None) or ""
    return module in ("attr", "attrs") or module.startswith(("attr.", "attrs.", "lineage.records"))


@attrs.define(init=False, repr=False)
class Artifact:
    """Base of every artifact; usable on its own for a generic artifact.

    Args:
        uri: Required location of the artifact's content.
        name: Required human name (not unique).
        workspace: Optional name of the workspace the artifact belongs to.
        description: Optional description.
        owner: Optional owner.
        labels: Optional key/value labels.
        **kwargs: Extra properties, stored as typed custom properties.

    Raises:
        InvalidTypeError: A field has the wrong type.
        InvalidValueError: A field has an unusable value (empty uri, NaN, ...).
    """

    ARTIFACT_TYPE_NAME: ClassVar[str] = "lineage/artifact"
    #: MLMD base type (DATASET, MODEL, METRICS) of the artifact type, if any.
    BASE_TYPE: ClassVar[Optional[str]] = None
    #: Whether artifacts with the same type, uri, name, version and workspace
    #: are one artifact (the Kubeflow SDK's rule for DataSet and Model).
    DEDUPLICATE: ClassVar[bool] = False
    #: Fields stored as STRING type properties in the Kubeflow layout.
    KUBEFLOW_PROPERTIES: ClassVar[Tuple[str, ...]] = ("name", "create_time", "description", "owner")

    # Defaults of None so that a custom attrs subclass missing them raises
    # lineage's error naming the field, not attrs' plain TypeError.
    uri: str = attrs.field(default=None, kw_only=True, validator=_required_str)
    name: str = attrs.field(default=None, kw_only=True, validator=_required_str)
    workspace: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    description: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    owner: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    labels: Optional[Mapping[str, Any]] = attrs.field(
        default=None, kw_only=True, converter=plain_json, validator=_optional_mapping
    )
    extra: Dict[str, Any] = attrs.field(factory=dict, kw_only=True, converter=_plain_extra, validator=_extra)
    id: Optional[int] = attrs.field(default=None, init=False, eq=False, validator=_optional_id)
    create_time: str = attrs.field(factory=_now, init=False, eq=False, validator=_required_str)

    def __init__(
        self,
        uri: Optional[str] = None,
        name: Optional[str] = None,
        workspace: Optional[str] = None,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        _attrs_init(self, kwargs)(  # a custom class's fields set too, not extra properties
            uri=uri,
            name=name,
            workspace=workspace,
            description=description,
            owner=owner,
            labels=labels,
            extra=_extra_of(kwargs),
        )

    @classmethod
    def is_duplicated(cls, a: Any, b: Any) -> bool:
        """Whether two stored artifacts (MLMD ``Artifact`` protos) are one, as
        the Kubeflow SDK's method of this name answers: for a class that
        deduplicates (DataSet, Model, ``DEDUPLICATE = True``), the same type
        id, uri, name, version and workspace as stored; for the others never.
        lineage's own writes do not call it (they match by external id)."""
        if not cls.DEDUPLICATE:
            return False
        workspace = "__kf_workspace__"
        return bool(
            a.type_id == b.type_id
            and a.uri == b.uri
            and a.properties.get("name") == b.properties.get("name")
            and a.properties.get("version") == b.properties.get("version")
            and a.custom_properties.get(workspace) == b.custom_properties.get(workspace)
        )

    def __attrs_post_init__(self) -> None:
        _validate_declared_fields(self)

    def __post_init__(self) -> None:
        # Called only by the __init__ @dataclasses.dataclass writes, which sets
        # none of the record's attrs fields (logging it failed on its id).
        raise InvalidTypeError(
            f"{type(self).__qualname__} is a dataclass: a record class must be an attrs class: "
            "decorate it with @attrs.define, not @dataclasses.dataclass"
        )

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Called for the class body, and again for the class attrs.define
        # makes of it (slotted, its default): both are checked here, at the
        # class's definition.
        _check_field_names(cls)
        _claim_type_name(cls)
        if "__getstate__" not in cls.__dict__ and "__setstate__" not in cls.__dict__:
            # For a class made with slots=False (attrs writes its own for a
            # slotted one): attrs' own of its slotted base holds that base's
            # fields only, and its records pickled and copied without theirs.
            # (One a class or mixin of the user's defines is theirs.)
            if _attrs_made(cls.__getstate__):
                cls.__getstate__ = Artifact.__getstate__  # type: ignore[method-assign]
            if _attrs_made(getattr(cls, "__setstate__", None)):
                cls.__setstate__ = Artifact.__setstate__  # type: ignore[method-assign]
        # attrs.define writes a repr of every field (workspace=None,
        # extra={}, create_time=...) over the one records share, which
        # shows the fields that are set: a class's own __repr__ is kept.
        made = cls.__dict__.get("__repr__")
        if getattr(getattr(made, "__code__", None), "co_filename", "").startswith("<attrs generated"):
            cls.__repr__ = Artifact.__repr__  # type: ignore[method-assign]
        elif made is None and getattr(cls.__repr__, "__wrapped__", cls.__repr__) is Artifact.__repr__:
            # A class made with slots=False gets attrs' repr after this: a
            # repr of its own (a copy of the shared one) means attrs writes none.
            cls.__repr__ = functools.wraps(Artifact.__repr__)(lambda self: Artifact.__repr__(self))  # type: ignore[method-assign]

    def __getstate__(self) -> Dict[str, Any]:
        # Every field of the record's own class, and what its __dict__ holds
        # (a class made with slots=False keeps its fields there).
        state = {name: getattr(self, name) for name in field_names(type(self))}
        own = getattr(self, "__dict__", None)
        return {**own, **state} if own else state

    def __setstate__(self, state: Dict[str, Any]) -> None:
        for name, value in state.items():
            try:
                object.__setattr__(self, name, value)
            except AttributeError:  # a field the class no longer has (as attrs' own skips it)
                pass

    def __reduce_ex__(self, protocol: Any) -> Any:
        """Copies and pickles (copy.copy, deepcopy, a pool worker's argument
        or result) carry what the record held when its id was given: a copy
        whose uri is then set anew is a new artifact, as the record itself
        would be (it was recorded as the artifact its stale id names)."""
        cls = type(self)
        if cls.__reduce__ is not object.__reduce__:  # the class's own choice
            return self.__reduce__()
        logged = copy_hooks[0](self) if copy_hooks is not None else None
        return (_rebuilt, (cls,) if logged is None else (cls, logged), self.__getstate__())

    @property
    def kwargs(self) -> Dict[str, Any]:
        """The extra keyword arguments, under the Kubeflow SDK's name for them."""
        return self.extra

    @kwargs.setter
    def kwargs(self, value: Mapping[str, Any]) -> None:
        # Code written for the SDK set them so before logging the record
        # (it had no setter: AttributeError); checked as ``extra`` is.
        self.extra = value  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = []
        for field in attrs.fields(type(self)):
            value = getattr(self, field.name)
            if field.name == "create_time" or value is None or (field.name == "extra" and not value):
                continue
            shown.append(f"{field.name}={value!r}")
        return f"{type(self).__name__}({', '.join(shown)})"


@attrs.define(init=False, repr=False)
class DataSet(Artifact):
    """A data set in a machine learning workflow.

    Args:
        uri: Required uri of the data set.
        name: Required name of the data set.
        workspace: Optional name of the workspace.
        description: Optional description.
        owner: Optional owner.
        version: Optional version tagged by the user.
        query: Optional query the data set was fetched with.
        labels: Optional key/value labels.
        **kwargs: Extra properties.
    """

    ARTIFACT_TYPE_NAME: ClassVar[str] = "kubeflow.org/alpha/data_set"
    BASE_TYPE: ClassVar[Optional[str]] = "DATASET"
    DEDUPLICATE: ClassVar[bool] = True
    KUBEFLOW_PROPERTIES: ClassVar[Tuple[str, ...]] = Artifact.KUBEFLOW_PROPERTIES + ("version", "query")

    version: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    query: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)

    def __init__(
        self,
        uri: Optional[str] = None,
        name: Optional[str] = None,
        workspace: Optional[str] = None,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        version: Optional[str] = None,
        query: Optional[str] = None,
        labels: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        strings = dict(
            uri=uri, name=name, workspace=workspace, description=description, owner=owner, version=version, query=query
        )
        if type(self) is DataSet and not kwargs and labels is None and _init_plain(self, strings):
            return
        init = _attrs_init(self, kwargs)  # a custom class's fields set too, not extra properties
        init(labels=labels, extra=_extra_of(kwargs), **strings)


@attrs.define(init=False, repr=False)
class Model(Artifact):
    """A machine learning model.

    Args:
        uri: Required uri of the model.
        name: Required name of the model.
        workspace: Optional name of the workspace.
        description: Optional description.
        owner: Optional owner.
        version: Optional version tagged by the user.
        model_type: Optional type of the model ("neural network").
        training_framework: Optional framework, e.g. {"name": "torch", "version": "2.3"}.
        hyperparameters: Optional map from hyperparameter name to value.
        labels: Optional key/value labels.
        **kwargs: Extra properties.
    """

    ARTIFACT_TYPE_NAME: ClassVar[str] = "kubeflow.org/alpha/model"
    BASE_TYPE: ClassVar[Optional[str]] = "MODEL"
    DEDUPLICATE: ClassVar[bool] = True
    KUBEFLOW_PROPERTIES: ClassVar[Tuple[str, ...]] = Artifact.KUBEFLOW_PROPERTIES + ("version", "model_type")

    version: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    model_type: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    training_framework: Any = attrs.field(default=None, kw_only=True, converter=plain_json, validator=_optional_json)
    hyperparameters: Optional[Mapping[str, Any]] = attrs.field(
        default=None, kw_only=True, converter=plain_json, validator=_metric_values
    )

    def __init__(
        self,
        uri: Optional[str] = None,
        name: Optional[str] = None,
        workspace: Optional[str] = None,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        version: Optional[str] = None,
        model_type: Optional[str] = None,
        training_framework: Any = None,
        hyperparameters: Optional[Mapping[str, Any]] = None,
        labels: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        strings = dict(
            uri=uri, name=name, workspace=workspace, description=description, owner=owner, version=version, model_type=model_type
        )
        plain = training_framework is None and hyperparameters is None and labels is None and not kwargs
        if type(self) is Model and plain and _init_plain(self, strings):
            return
        _attrs_init(self, kwargs)(  # a custom class's fields set too, not extra properties
            training_framework=training_framework,
            hyperparameters=hyperparameters,
            labels=labels,
            extra=_extra_of(kwargs),
            **strings,
        )


@attrs.define(init=False, repr=False)
class Metrics(Artifact):
    """Evaluation metrics of a model on a data set.

    Args:
        uri: Required uri of the metrics.
        name: Required name of the metrics.
        workspace: Optional name of the workspace.
        description: Optional description.
        owner: Optional owner.
        data_set_id: Optional id of the data set used for evaluation.
        model_id: Optional id of the evaluated model.
        metrics_type: Optional type, one of ``Metrics.TRAINING``,
            ``VALIDATION``, ``TESTING``, ``PRODUCTION`` (or your own).
        values: Optional map from metric name to value.
        labels: Optional key/value labels.
        **kwargs: Extra properties.
    """

    ARTIFACT_TYPE_NAME: ClassVar[str] = "kubeflow.org/alpha/metrics"
    BASE_TYPE: ClassVar[Optional[str]] = "METRICS"
    KUBEFLOW_PROPERTIES: ClassVar[Tuple[str, ...]] = Artifact.KUBEFLOW_PROPERTIES + (
        "metrics_type",
        "data_set_id",
        "model_id",
    )

    TRAINING: ClassVar[str] = "training"
    VALIDATION: ClassVar[str] = "validation"
    TESTING: ClassVar[str] = "testing"
    PRODUCTION: ClassVar[str] = "production"

    data_set_id: Optional[str] = attrs.field(default=None, kw_only=True, converter=_id_to_str, validator=_optional_str)
    model_id: Optional[str] = attrs.field(default=None, kw_only=True, converter=_id_to_str, validator=_optional_str)
    metrics_type: Optional[str] = attrs.field(default=None, kw_only=True, validator=_optional_str)
    values: Optional[Mapping[str, Any]] = attrs.field(
        default=None, kw_only=True, converter=plain_json, validator=_metric_values
    )

    def __init__(
        self,
        uri: Optional[str] = None,
        name: Optional[str] = None,
        workspace: Optional[str] = None,
        description: Optional[str] = None,
        owner: Optional[str] = None,
        data_set_id: Optional[str] = None,
        model_id: Optional[str] = None,
        metrics_type: Optional[str] = None,
        values: Optional[Mapping[str, Any]] = None,
        labels: Optional[Mapping[str, Any]] = None,
        **kwargs: Any,
    ) -> None:
        _attrs_init(self, kwargs)(  # a custom class's fields set too, not extra properties
            uri=uri,
            name=name,
            workspace=workspace,
            description=description,
            owner=owner,
            data_set_id=data_set_id,
            model_id=model_id,
            metrics_type=metrics_type,
            values=values,
            labels=labels,
            extra=_extra_of(kwargs),
        )


_BUILTIN_RECORDS: Tuple[type, ...] = (Metrics, Model, DataSet, Artifact)


def _name_unknown_attributes(cls: Any) -> None:
    """Make setting an attribute that is no field of a built-in record say
    where such a value goes. Code written for the Kubeflow SDK set any
    attribute (``model.accuracy = 0.9``), kept in ``__ALL_META__``; a
    slotted record raised a bare AttributeError. Only the failing path costs
    more: records are made with object.__setattr__."""
    assign = cls.__setattr__

    @functools.wraps(assign)
    def __setattr__(self: Any, name: str, value: Any) -> None:
        try:
            assign(self, name, value)
        except AttributeError:
            cls_name = type(self).__name__
            if not isinstance(name, str) or name.startswith("_") or hasattr(type(self), name):
                raise  # a private name, or a read-only property: Python's own error
            raise _NoSuchFieldError(
                f"{cls_name} has no field {name!r} (the Kubeflow SDK kept any attribute in __ALL_META__): "
                f"keep it as an extra property, record.extra[{name!r}] = ... or {cls_name}(..., {name}=...); "
                f"got {describe(value)}"
            ) from None

    cls.__setattr__ = __setattr__


for _cls in _BUILTIN_RECORDS:
    _name_unknown_attributes(_cls)
del _cls
_BUILTIN_TYPE_NAMES = frozenset(cls.ARTIFACT_TYPE_NAME for cls in (Metrics, Model, DataSet, Artifact))

# --------------------------------------------------------------------------- schemas


@attrs.frozen
class FieldSpec:
    """A record field that is stored as a type property."""

    name: str
    kind: str  # one of STR, INT, FLOAT, BOOL, JSON
    nullable: bool = True
    #: The class a field's values are stored in the form of (kind) of:
    #: ``datetime.datetime`` or ``datetime.date`` (ISO 8601 text), an Enum
    #: (its members' values); None for a field that holds what it stores.
    held: Optional[type] = None


@attrs.frozen
class RecordSchema:
    """How a record class is stored: its type, properties and dedup rule."""

    cls: type
    type_name: str
    base_type: Optional[str]
    properties: Tuple[FieldSpec, ...]
    deduplicate: bool
    builtin: type

    def property(self, name: str) -> Optional[FieldSpec]:
        for spec in self.properties:
            if spec.name == name:
                return spec
        return None


_SCHEMAS: Dict[type, RecordSchema] = {}
_CLASSES_BY_TYPE_NAME: Dict[str, type] = {cls.ARTIFACT_TYPE_NAME: cls for cls in _BUILTIN_RECORDS}


def _builtin_ancestor(cls: type) -> type:
    for base in cls.__mro__:
        if base in _BUILTIN_RECORDS:
            return base
    raise InvalidTypeError(f"{cls.__name__} is not a subclass of lineage.Artifact")


_UNION_TYPES: Tuple[Any, ...] = (typing.Union,)
if sys.version_info >= (3, 10):
    import types

    _UNION_TYPES += (types.UnionType,)


def _kind_of(tp: Any) -> Tuple[str, bool]:
    """Map a type annotation to (field kind, nullable)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _kind_of(typing.get_args(tp)[0])
    if origin in _UNION_TYPES:
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return _kind_of(args[0])[0], True
        return JSON, True
    if tp is bool:
        return BOOL, False
    if tp is int:
        return INT, False
    if tp is float:
        return FLOAT, False
    if tp is str:
        return STR, False
    if isinstance(tp, type) and issubclass(tp, datetime.date):
        return STR, False  # ISO 8601 text
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return _enum_kind(tp), False
    return JSON, True


def _held_class(tp: Any) -> Optional[type]:
    """The class whose values a field annotated *tp* holds in another form
    than it stores them (see FieldSpec.held): ``datetime``, ``date`` (a
    subclass of either is read back as the base class), an Enum; None for the others,
    ``Union[date, str]`` too (its values are refused, as JSON)."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        return _held_class(typing.get_args(tp)[0])
    if origin is not None:
        if origin not in _UNION_TYPES:
            return None  # list[date]: nested values are JSON, refused as such
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return _held_class(args[0]) if len(args) == 1 else None
    if not isinstance(tp, type):
        return None
    if issubclass(tp, datetime.datetime):
        return datetime.datetime
    if issubclass(tp, datetime.date):
        return datetime.date
    if issubclass(tp, enum.Enum):
        return tp
    return None


def _enum_kind(cls: Any) -> str:
    """The kind of the values of an Enum's members: STR when all are str,
    INT when all are ints (not bools), FLOAT when all are numbers, BOOL when
    all are bools; JSON otherwise (a struct holds any of them)."""
    values = [member.value for member in cls]
    if not values:
        return JSON
    if all(type(value) is str for value in values):
        return STR
    if all(type(value) is bool for value in values):
        return BOOL
    if all(isinstance(value, int) and not isinstance(value, bool) for value in values):
        return INT
    if all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in values):
        return FLOAT
    return JSON


def stored_form(value: Any) -> Any:
    """What is stored of a field's *value* of a class FieldSpec.held names:
    a datetime or date as its ISO 8601 text (an aware one with its UTC
    offset; a subclass's, pandas' ``Timestamp``, as the datetime's, to the
    microsecond), an Enum member as its value. Used as the ``default`` of
    the JSON encoders of ``__ALL_META__``: called for no other value.

    Raises:
        TypeError: *value* is none of those (as json's own default).
    """
    if isinstance(value, datetime.datetime):
        return datetime.datetime.isoformat(value)
    if isinstance(value, datetime.date):
        return datetime.date.isoformat(value)
    if isinstance(value, enum.Enum):
        return value.value
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def read_held(held: type, value: Any) -> Any:
    """A field's stored *value* (see stored_form) as the class *held* it
    was: an ISO 8601 text as a datetime or date, a value as the Enum member
    of that value (its JSON form: a tuple value comes back a list).

    Raises:
        ValueError, TypeError: *value* is no such text, or no member's value.
    """
    if isinstance(value, held):
        return value
    if held is datetime.datetime:
        if not isinstance(value, str):
            raise TypeError(f"not an ISO 8601 text: {value!r}")
        return datetime.datetime.fromisoformat(value)
    if held is datetime.date:
        if not isinstance(value, str):
            raise TypeError(f"not an ISO 8601 text: {value!r}")
        return datetime.date.fromisoformat(value)
    try:
        return held(value)
    except (ValueError, TypeError):
        for member in held:  # type: ignore[attr-defined]
            if plain_json(member.value) == value:
                return member
        raise


_held_by_class: Dict[type, Tuple[Tuple[str, type], ...]] = {}


def held_fields(cls: type) -> Tuple[Tuple[str, type], ...]:
    """(name, class) of the fields of a record class stored in another form
    than they hold (see FieldSpec.held), to read them back as that class."""
    held = _held_by_class.get(cls)
    if held is None:
        held = _held_by_class[cls] = tuple((spec.name, spec.held) for spec in schema_of(cls).properties if spec.held is not None)
    return held


def _field_types(cls: type) -> Dict[str, Any]:
    try:
        attrs.resolve_types(cls)
    except Exception:  # unresolvable string annotations: fall back to names
        pass
    simple = {"str": str, "int": int, "float": float, "bool": bool}
    module = sys.modules.get(cls.__module__)
    namespace = dict(vars(module)) if module is not None else {}
    out = {}
    for field in attrs.fields(cls):
        tp = field.type
        if isinstance(tp, str):  # one annotation of the class unresolvable: each of the others on its own
            try:
                tp = eval(tp, namespace, {})  # noqa: S307 - the class's own annotation, as attrs.resolve_types does
            except Exception:
                pass
        if isinstance(tp, str):
            text = tp.replace(" ", "")
            if text.startswith("Optional[") and text.endswith("]"):
                inner = simple.get(text[len("Optional[") : -1])
                tp = Optional[inner] if inner else Any  # type: ignore[valid-type]
            else:
                tp = simple.get(text, Any)
        out[field.name] = tp
    return out


def schema_of(cls: type) -> RecordSchema:
    """Return (and cache) the storage schema of a record class."""
    schema = _SCHEMAS.get(cls)
    if schema is not None:
        return schema
    if not (isinstance(cls, type) and issubclass(cls, Artifact)):
        raise InvalidTypeError(f"expected a lineage.Artifact subclass, got {describe(cls)}")
    builtin = _builtin_ancestor(cls)
    # attrs.has() is true for any subclass of an attrs class; a plain subclass
    # would silently turn its annotated fields into class attributes.
    if cls is not builtin and "__attrs_attrs__" not in cls.__dict__:
        raise InvalidTypeError(f"{cls.__qualname__} must be an attrs class: decorate it with @attrs.define")
    if cls is not builtin:
        _check_field_names(cls)  # first: a type name annotated as a field is no type name
    type_name = _own_type_name(cls) if cls is not builtin else cls.ARTIFACT_TYPE_NAME
    if not isinstance(type_name, str) or not type_name.strip():
        raise InvalidValueError(f"{cls.__qualname__}.ARTIFACT_TYPE_NAME must be a non-empty string, got {type_name!r}")
    props = [FieldSpec(name, STR) for name in builtin.KUBEFLOW_PROPERTIES]  # type: ignore[attr-defined]
    if cls is not builtin:
        builtin_fields = {f.name for f in attrs.fields(builtin)}
        types = _field_types(cls)
        for field in attrs.fields(cls):
            if field.name in builtin_fields:
                continue
            check_property_name(f"{cls.__qualname__} field", field.name)
            kind, nullable = _kind_of(types[field.name])
            props.append(FieldSpec(field.name, kind, nullable, _held_class(types[field.name])))
        if "_MADE_AS" not in cls.__dict__:  # one made for a stored type reads what is there
            _check_one_name_each(cls, props)
    schema = RecordSchema(
        cls=cls,
        type_name=type_name,
        base_type=getattr(cls, "BASE_TYPE", None),
        properties=tuple(props),
        deduplicate=bool(getattr(cls, "DEDUPLICATE", False)),
        builtin=builtin,
    )
    known = _CLASSES_BY_TYPE_NAME.get(type_name)
    if known is not None and known is not cls and known in _BUILTIN_RECORDS and cls is not builtin:
        raise InvalidValueError(
            f"{cls.__qualname__}.ARTIFACT_TYPE_NAME {type_name!r} is the type name of "
            f"lineage.{known.__name__}: give the custom type its own name"
        )
    if known is not None and known is not cls and cls is not builtin and known not in _BUILTIN_RECORDS:
        _check_type_name_free(cls, type_name, known, schema.properties)
    _CLASSES_BY_TYPE_NAME[type_name] = cls
    _SCHEMAS[cls] = schema
    if cls is not builtin:
        _check_assignments(cls, schema.properties[len(builtin.KUBEFLOW_PROPERTIES) :])  # type: ignore[attr-defined]
    return schema


def _check_one_name_each(cls: type, props: List[FieldSpec]) -> None:
    """Raise unless the properties of a record class are distinct names as
    MySQL compares them (see property_name_key): the properties of its MLMD
    type, one row each there, and "lr" beside "LR" (or a field "Description"
    beside DataSet's "description") could not be registered, so no record of
    the class could be stored. Refused on every backend, so that a store can move."""
    seen: Dict[str, str] = {}
    for spec in props:
        other = seen.setdefault(property_name_key(spec.name), spec.name)
        if other != spec.name:
            raise InvalidValueError(
                f"{cls.__qualname__} fields {other!r} and {spec.name!r} differ only in case or trailing spaces: "
                "they are properties of its MLMD type, and MLMD on MySQL cannot keep both "
                "(refused on every backend, so that a store can move); rename one"
                if other.isascii() and spec.name.isascii()
                else f"{cls.__qualname__} fields {other!r} and {spec.name!r} are one name as MLMD on MySQL compares "
                "them (case, accents and trailing spaces aside, once its client sends them as latin1): they are "
                "properties of its MLMD type, which cannot keep both there (refused on every backend, so that a "
                "store can move); rename one"
            )


def record_classes() -> list:
    """The record classes of this process: built-in, registered and defined
    (subclasses of :class:`Artifact` with attrs fields)."""
    found = list(dict.fromkeys([*_BUILTIN_RECORDS, *_CLASSES_BY_TYPE_NAME.values()]))
    pending = list(Artifact.__subclasses__())
    while pending:
        candidate = pending.pop()
        pending.extend(candidate.__subclasses__())
        if candidate not in found and "__attrs_attrs__" in candidate.__dict__:
            found.append(candidate)
    return found


def record_class_for(type_name: str) -> Optional[type]:
    """Return the record class of an MLMD type name, if one is defined.

    A custom type is registered when its schema is first needed; a class
    that is defined (imported) but not used yet in this process is found
    too. A class defined again (a notebook cell run again) is found as it
    was defined last, although the one before it was used.
    """
    claimed = _CLAIMED.get(type_name)
    if claimed is not None and "__attrs_attrs__" in claimed.__dict__:
        try:
            schema_of(claimed)
        except (InvalidTypeError, InvalidValueError):
            pass
        else:
            return claimed
    cls = _CLASSES_BY_TYPE_NAME.get(type_name)
    if cls is not None:
        return cls
    pending = list(Artifact.__subclasses__())
    while pending:
        candidate = pending.pop()
        pending.extend(candidate.__subclasses__())
        own = candidate.__dict__.get("ARTIFACT_TYPE_NAME", candidate.__qualname__)
        if own == type_name and candidate not in _BUILTIN_RECORDS and "__attrs_attrs__" in candidate.__dict__:
            try:
                schema_of(candidate)
            except (InvalidTypeError, InvalidValueError):
                continue
            return candidate
    return None


#: The kinds a made class's field may have, by name (picklable).
_MADE_KINDS: Dict[str, Any] = {"str": str, "int": int, "float": float, "bool": bool, "json": Any}


#: Held while a class is made for a stored type: two threads reading the
#: same new type at once made a class each (their records then were of two
#: classes, one of them not the registered one).
_making = threading.RLock()
renew_after_fork(globals(), "_making", threading.RLock)


def class_for_type(type_name: str, fields: Mapping[str, str], class_name: str) -> type:
    """The record class of an artifact type known only by its name and its
    properties' kinds (an artifact in the Kubeflow SDK's own style:
    ``ARTIFACT_TYPE_NAME`` and ``serialization()``, no attrs fields).

    Args:
        fields: Property name -> "str", "int", "float", "bool" or "json".
            Only names that can be Python attributes become fields; the
            caller keeps the others as extra properties.

    The class defined for the type, if any; else one made here (an attrs
    subclass of :class:`Artifact` with an optional field per property,
    registered like a defined one, so that reads in this process give it
    back; its records pickle and copy like any). A made class lacking some
    of *fields* is made again with them added (an optional property the
    first object logged did not set).
    """
    with _making:
        return _class_for_type(type_name, fields, class_name)


def _class_for_type(type_name: str, fields: Mapping[str, str], class_name: str) -> type:
    # Nor Artifact's class attributes: a property "DEDUPLICATE" or
    # "BASE_TYPE" became a slot, taken for the class's setting.
    base = set(field_names(Artifact)) | set(dir(Artifact))
    spec = tuple(
        (name, kind)
        for name, kind in fields.items()
        if name not in base
        and kind in _MADE_KINDS
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and name not in RESERVED_PROPERTY_NAMES
        and not name.startswith(_RESERVED_PREFIXES)
        and name != "kwargs"  # see _check_field_names
        and name != "self"  # the argument name of the class's __init__
        and not name.startswith("__")  # a slot "__x" is mangled: no field could be set
    )
    known = record_class_for(type_name)
    if known is not None:
        made_as = known.__dict__.get("_MADE_AS")
        if made_as is None:
            return known
        had = dict(made_as[1])
        if all(name in had for name, _ in spec):
            return known
        spec = tuple(had.items()) + tuple((name, kind) for name, kind in spec if name not in had)
    safe = re.sub(r"\W", "_", class_name) or "Artifact"
    if not safe.isidentifier() or keyword.iskeyword(safe):
        safe = "_" + safe
    made = attrs.make_class(
        safe,
        {
            name: attrs.field(
                default=None,
                kw_only=True,
                alias=name,  # "_x" is no argument "x" (beside a property "x": __init__ did not compile)
                type=Optional[_MADE_KINDS[kind]] if kind != "json" else Any,  # type: ignore[arg-type]
            )
            for name, kind in spec
        },
        bases=(Artifact,),
        class_body={
            "ARTIFACT_TYPE_NAME": type_name,
            "__module__": __name__,
            "_MADE_AS": (type_name, spec, class_name),
            "__reduce__": _reduce_made,
        },
        repr=False,
        slots=True,
    )
    schema_of(made)  # checks the field names; registers the type name
    return made


def class_for_stored_type(type_name: str, fields: Mapping[str, str]) -> Optional[type]:
    """The record class to read the artifacts of a stored type as, in a
    process where no class describes it (a class made for it in another
    process, one not imported here, another tool's type): one made from the
    type's properties (see :func:`class_for_type`), so that they read back
    with their fields, as in the process that made or defined the class,
    not as plain :class:`Artifact` records with those in ``extra``. Named
    after the type's last part (``acme.org/ckpt/plain_checkpoint``:
    ``PlainCheckpoint``); a class defined for the type later is the one
    used from then on.

    Returns:
        The class, or None: lineage's own type names, and a type whose
        properties no class can have (read as Artifact records, as before).
    """
    if type_name in _BUILTIN_TYPE_NAMES:
        return None
    last = re.split(r"[/.:]", type_name.rstrip("/.:"))[-1]
    class_name = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^0-9A-Za-z]+", last)) or "Artifact"
    try:
        return class_for_type(type_name, fields, class_name)
    except Exception:  # a read must not fail for it: read as Artifact records, as before
        return None


def _reduce_made(record: Any) -> Tuple[Any, ...]:
    # A made class cannot be found by name in another process: it is made
    # again there from the same description.
    state = {name: getattr(record, name) for name in field_names(type(record))}
    return (_remade, (type(record)._MADE_AS, state))


def _remade(made_as: Tuple[str, Tuple[Tuple[str, str], ...], str], state: Dict[str, Any]) -> Any:
    type_name, spec, class_name = made_as
    cls = class_for_type(type_name, dict(spec), class_name)
    record = cls.__new__(cls)
    for name in field_names(cls):
        object.__setattr__(record, name, state.get(name))
    return record


def is_builtin(cls: type) -> bool:
    """Whether *cls* is one of lineage's own record classes (keyword
    arguments beyond its fields are its extra properties)."""
    return cls in _BUILTIN_RECORDS


def _validate_declared_fields(record: Artifact) -> None:
    """Raise unless the declared fields of a custom record hold what they
    declare, and hold nested data as JSON will give it back, when the record
    is made (assignments: _check_assignments; changes in place, when it is
    logged: check_current)."""
    cls = type(record)
    if cls in _BUILTIN_RECORDS:
        return
    for spec in _declared_specs(cls):
        value = getattr(record, spec.name)
        checked = _declared_value(cls, spec, value)
        if checked is not value:
            object.__setattr__(record, spec.name, checked)


def _declared_specs(cls: type) -> Tuple[FieldSpec, ...]:
    """The properties of a custom record class's own fields."""
    schema = schema_of(cls)
    return schema.properties[len(schema.builtin.KUBEFLOW_PROPERTIES) :]  # type: ignore[attr-defined]


def _declared_value(cls: type, spec: FieldSpec, value: Any) -> Any:
    """*value* for the declared field *spec* of *cls*, nested data as JSON
    gives it back.

    Raises:
        InvalidTypeError: *value* is not of the field's kind.
        InvalidValueError: *value* cannot be stored (NaN, too large, ...).
    """
    if value is None:
        return value
    where = f"{cls.__name__}.{spec.name}"
    if spec.held is not None:
        _check_held(where, spec.held, value)
        return value
    if spec.kind == STR and not isinstance(value, str):
        raise InvalidTypeError(f"{where} must be a str, got {describe(value)}")
    if spec.kind == BOOL and not isinstance(value, bool):
        raise InvalidTypeError(f"{where} must be a bool, got {describe(value)}")
    if spec.kind == INT:
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidTypeError(f"{where} must be an int, got {describe(value)}")
        check_int64(where, value)
    if spec.kind == FLOAT and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise InvalidTypeError(f"{where} must be a float, got {describe(value)}")
    if spec.kind == JSON:
        value = plain_json(value)
    try:
        check_json(where, value)
    except InvalidTypeError as exc:
        if isinstance(value, (datetime.date, enum.Enum)):
            # Taken by a field annotated as its class (Optional at most): this
            # one's annotation is another (a Union), or one lineage could not
            # resolve (a class local to a function, under postponed annotations).
            raise InvalidTypeError(
                f"{exc} (a datetime, date or Enum is taken by a field annotated with its class, or Optional of it, "
                "defined where the record class's module can see it)"
            ) from None
        raise
    return value


def _check_held(where: str, held: Any, value: Any) -> None:
    """Raise unless *value* is one of the class *held* (see FieldSpec.held)
    whose stored form reads back as it. Nothing is converted, as for the
    other kinds (an int field refuses "8"): a str for a datetime field is
    refused, saying how to make one (an attrs converter does it for every
    value).

    Raises:
        InvalidTypeError: *value* is not of that class.
        InvalidValueError: an Enum member whose value cannot be stored.
    """
    if held is datetime.date:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return
        hint = " (a datetime's time would be lost: give its .date())" if isinstance(value, datetime.datetime) else ""
        if isinstance(value, str):
            hint = f" (give datetime.date.fromisoformat({value!r}), or add converter=datetime.date.fromisoformat to the field)"
        raise InvalidTypeError(f"{where} must be a datetime.date, got {describe(value)}{hint}")
    if held is datetime.datetime:
        if isinstance(value, datetime.datetime):
            return
        hint = ""
        if isinstance(value, str):
            hint = (
                f" (give datetime.datetime.fromisoformat({value!r}), "
                "or add converter=datetime.datetime.fromisoformat to the field)"
            )
        raise InvalidTypeError(f"{where} must be a datetime.datetime, got {describe(value)}{hint}")
    if not isinstance(value, held):
        name = f"{held.__module__}.{held.__qualname__}" if held.__module__ != "__main__" else held.__qualname__
        hint = ""
        try:
            member = held(value)
        except Exception:  # no member has it as value: no hint
            pass
        else:
            cls_name = held.__qualname__
            hint = f" (the value of {member}: give {cls_name}({value!r}), or add converter={cls_name} to the field)"
        raise InvalidTypeError(f"{where} must be a member of {name}, got {describe(value)}{hint}")
    check_int64(f"{where} value", value.value)
    check_json(f"{where} value", value.value)


def _check_assignments(cls: type, specs: Tuple[FieldSpec, ...]) -> None:
    """Check what is assigned to the declared fields of a custom record
    class, as attrs' on_setattr validators check the built-in fields: a
    wrong value raises at the assignment, naming the field and the value,
    not when the record is logged. (The class is the user's, made by attrs
    before lineage sees it: its own __setattr__ is wrapped. Records are made
    with object.__setattr__, so making one costs no more.)"""
    assign: Any = cls.__setattr__
    if not specs or getattr(assign, "__name__", "") == "_frozen_setattrs":
        return  # a frozen class refuses every assignment itself (FrozenInstanceError)
    by_name = {spec.name: spec for spec in specs}
    missing = object()
    # A class without an attrs setter (@attr.s, on_setattr=NO_OP) converts
    # nothing on assignment: lineage runs the field's converter for it.
    fields = attrs.fields_dict(cls)  # type: ignore[arg-type]
    converters = (
        {name: fields[name].converter for name in by_name if name in fields and fields[name].converter is not None}
        if assign is object.__setattr__
        else {}
    )

    def __setattr__(self: Any, name: str, value: Any) -> None:
        spec = by_name.get(name)
        if spec is None:
            assign(self, name, value)
            return
        # attrs' own setter first: the field's converter, once (n = "8" with
        # converter=int is 8), and its own validators; then what it stored is
        # checked, and the old value put back if it cannot be stored.
        old = getattr(self, name, missing)
        converter = converters.get(name)
        assign(self, name, converter(value) if converter is not None else value)
        stored = getattr(self, name)
        try:
            checked = _declared_value(type(self), spec, stored)
        except LineageError:
            if old is not missing:
                object.__setattr__(self, name, old)
            raise
        if checked is not stored:
            object.__setattr__(self, name, checked)  # nested data as JSON gives it back, as when made

    cls.__setattr__ = __setattr__  # type: ignore[assignment,method-assign]


#: The built-in fields that hold a dict or list a user may change in place.
_NESTED_FIELDS = ("labels", "extra", "values", "hyperparameters", "training_framework")
_nested_of: Dict[type, Tuple[Any, ...]] = {}


def check_current(record: Artifact) -> None:
    """Raise unless *record* still holds what it may.

    A dict or list changed in place since the record was made
    (``m.hyperparameters["lr"] = Decimal("0.1")``, ``d.extra["x"] = nan``) is
    seen by no assignment's check: it failed when written, without a name
    (and for a tracked call, the whole execution was lost). Checked with
    the field's own converter and validator, when a record without an id
    is logged (one with an id is referenced, not written); an empty field
    costs nothing. Nothing is changed: the record keeps the very dicts the
    user holds.

    Raises:
        InvalidTypeError, InvalidValueError: naming the field and the value.
    """
    cls = type(record)
    fields = _nested_of.get(cls)
    if fields is None:
        fields = _nested_of[cls] = tuple(
            f for f in attrs.fields(cls) if f.name in _NESTED_FIELDS and (f.validator is not None or f.converter is not None)
        )
    for field in fields:
        value = getattr(record, field.name)
        if not value:
            continue
        if field.name == "extra":  # its items, without the misspelling warning given when it was made
            check_extra_items(_where(record, field), value)
            continue
        converted = field.converter(value) if field.converter is not None else value  # type: ignore[misc,operator]
        if field.validator is not None:
            field.validator(record, field, converted)
    if cls not in _BUILTIN_RECORDS:
        for spec in _declared_specs(cls):
            _declared_value(cls, spec, getattr(record, spec.name))
