"""Records <-> MLMD protos, in the Kubeflow Metadata layout.

Layout (what the Kubeflow SDK and its metadata server used):

* artifact types ``kubeflow.org/alpha/data_set|model|metrics`` whose
  properties are STRING (``name``, ``create_time``, ``description``, ...) plus
  ``__ALL_META__``, a JSON copy of every field, nested ones included;
* custom properties ``__kf_workspace__`` and ``__kf_run__`` naming the
  workspace and run an artifact or execution was logged in;
* execution type ``kubeflow.org/alpha/execution``, workspace context type
  ``kubeflow.org/alpha/workspace``.

lineage adds: typed custom properties for numbers in ``values``,
``hyperparameters`` and extra fields (``values.accuracy`` as a DOUBLE), typed
properties for custom record types, a run context type, and
``external_id``s that make writes idempotent.

Strings: MLMD truncates strings at NUL on every backend and builds invalid
SQL for a backslash on PostgreSQL. :func:`encode` escapes those characters
with a private-use marker, reversibly; :func:`decode` undoes it on every read.
"""

from __future__ import annotations

import datetime
import enum
import hashlib
import itertools
import json
import math
import os
import re
import threading
import weakref
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

import attrs
from google.protobuf import any_pb2, struct_pb2, wrappers_pb2
from ml_metadata.proto import metadata_store_pb2 as pb

from lineage import records
from lineage._fork import renew_after_fork
from lineage.errors import InvalidTypeError, InvalidValueError, ReservedPropertyError, describe
from lineage.records import BOOL, FLOAT, INT, JSON, MAX_CONTEXT_NAME_BYTES, STR, Artifact, RecordSchema, schema_of
from lineage.store import _digest

__all__ = [
    "ALL_META",
    "EXECUTION_TYPE_NAME",
    "RUN_PROPERTY",
    "RUN_TYPE_NAME",
    "WORKSPACE_PROPERTY",
    "WORKSPACE_TYPE_NAME",
    "decode",
    "encode",
]

WORKSPACE_PROPERTY = "__kf_workspace__"
RUN_PROPERTY = "__kf_run__"
ALL_META = "__ALL_META__"

EXECUTION_TYPE_NAME = "kubeflow.org/alpha/execution"
WORKSPACE_TYPE_NAME = "kubeflow.org/alpha/workspace"
RUN_TYPE_NAME = "lineage/run"

EXECUTION_PROPERTIES = {"name": pb.STRING, "create_time": pb.STRING, "description": pb.STRING, ALL_META: pb.STRING}
WORKSPACE_PROPERTIES = {"description": pb.STRING, "labels": pb.STRING}
RUN_PROPERTIES = {"name": pb.STRING, "description": pb.STRING, "workspace": pb.STRING}

_KIND_TO_MLMD = {STR: pb.STRING, INT: pb.INT, FLOAT: pb.DOUBLE, BOOL: pb.BOOLEAN, JSON: pb.STRUCT}

# --------------------------------------------------------------------------- strings

_MARK = "\ue000"
_ESCAPES = {"m": _MARK, "0": "\x00", "b": "\\"}
_ESCAPED = re.compile(_MARK + "(?:([m0b])|u([0-9a-f]{4}))")
# A lone surrogate is not UTF-8: MLMD cannot carry it. Records refuse one when
# made; a value lineage captures (an argument, a path, an error message, e.g.
# from os.fsdecode of a bad file name) is stored escaped instead, and read
# back as it was.
_SURROGATE = re.compile("[\ud800-\udfff]")


def _unescape(match: Any) -> str:
    simple = match.group(1)
    return _ESCAPES[simple] if simple else chr(int(match.group(2), 16))


def encode(text: str, mangles_backslashes: bool) -> str:
    """Escape what the backend cannot store (NUL, lone surrogates; backslash
    on PostgreSQL)."""
    if (
        _MARK not in text
        and "\x00" not in text
        and not (mangles_backslashes and "\\" in text)
        and (text.isascii() or _SURROGATE.search(text) is None)
    ):
        return text
    text = text.replace(_MARK, _MARK + "m").replace("\x00", _MARK + "0")
    if mangles_backslashes:
        text = text.replace("\\", _MARK + "b")
    if not text.isascii():
        text = _SURROGATE.sub(lambda m: f"{_MARK}u{ord(m.group()):04x}", text)
    return text


def decode(text: str) -> str:
    """Undo :func:`encode`; the identity on strings that were not escaped."""
    if _MARK not in text:
        return text
    return _ESCAPED.sub(_unescape, text)


def _as_stored(text: str) -> str:
    return text


def escaped_by_lineage(proto: Any) -> bool:
    """Whether the strings of a stored artifact or execution are lineage's
    escaped ones (see :func:`encode`).

    lineage gives every artifact and execution it writes an external id, and
    never writes one it did not make (an artifact the Kubeflow SDK wrote is
    referenced, not re-put). One without is another client's (the Kubeflow
    SDK, MLMD's own tools): its strings are as that client wrote them, and
    a U+E000 there is a character, not an escape ("ws\ue000m" is not read
    as "ws\ue000").
    """
    return bool(proto.external_id)


def decoder_for(proto: Any) -> Callable[[str], str]:
    """What reads the strings of a stored artifact or execution: :func:`decode`
    for lineage's, the identity for another client's (see escaped_by_lineage)."""
    return decode if escaped_by_lineage(proto) else _as_stored


def in_escaped_form(stored: str) -> bool:
    """Whether *stored* is what :func:`encode` makes of some string: every
    U+E000 in it starts an escape that encode writes. One that is not was
    stored by another client as it is (a context, which has no external id
    to tell: see :func:`escaped_by_lineage`)."""
    if _MARK not in stored:
        return True
    text = decode(stored)
    return encode(text, False) == stored or encode(text, True) == stored


def as_another_client_stores(stored: str, mangles_backslashes: bool) -> Optional[str]:
    """The string lineage stores as *stored*, as a client that does not
    escape (the Kubeflow SDK) stores it; None when that is *stored* itself,
    or when such a client could not store it (NUL, a lone surrogate, a
    backslash where the backend mangles them): only U+E000s differ."""
    if _MARK not in stored:
        return None
    text = decode(stored)
    if "\x00" in text or (mangles_backslashes and "\\" in text) or (not text.isascii() and _SURROGATE.search(text)):
        return None
    return text


def _encode_json_strings(value: Any, mangle: bool) -> Any:
    if isinstance(value, str):
        return encode(value, mangle)
    if isinstance(value, Mapping):
        return {encode(k, mangle): _encode_json_strings(v, mangle) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_encode_json_strings(v, mangle) for v in value]
    return value


def _decode_json_strings(value: Any, text: Any = decode) -> Any:
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {text(k): _decode_json_strings(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_json_strings(v, text) for v in value]
    return value


# --------------------------------------------------------------------------- values


# MLMD's PostgreSQL and MySQL schemas keep int_value in a 32-bit INT column:
# a larger int fails the whole write ("integer out of range"). The same
# record must store alike on every backend, so larger ints are typed as
# doubles everywhere; the exact value stays in ``__ALL_META__``.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


def fits_int_value(value: int) -> bool:
    """Whether every backend can store *value* as an MLMD int_value."""
    return INT_MIN <= value <= INT_MAX


def exact_as_property(value: Any) -> bool:
    """Whether a typed custom property gives *value* back as it is.

    MLMD writes doubles with 6 decimals (1e-7 comes back 0.0), SQLite keeps
    15 significant digits, MySQL caps them at 1e65 and no backend keeps the
    sign of -0.0; ints are 32 bits on PostgreSQL and MySQL; None is no
    property at all; lists and dicts come back as structs, whose numbers are
    all floats.
    """
    cls = type(value)
    if cls is str or cls is bool:
        return True
    if cls is int:
        return fits_int_value(value)
    if cls is float:
        if value == 0.0:
            return math.copysign(1.0, value) > 0
        exact = _exact_floats.get(value)
        if exact is None:
            exact = -_DOUBLE_LIMIT < value < _DOUBLE_LIMIT and float(f"{value:.6f}") == value and float(f"{value:.15g}") == value
            if value == value:  # not a NaN, a key that never finds itself (NaN != NaN)
                if len(_exact_floats) >= 4096:  # values made on the fly: stay bounded
                    _exact_floats.clear()
                _exact_floats[value] = exact
        return exact
    return False


#: The largest double MLMD's MySQL schema keeps (larger ones come back as it).
_DOUBLE_LIMIT = 1e65
#: Per float (not 0.0, whose sign decides, and -0.0 is a key equal to it):
#: whether exact_as_property takes it. Its two formattings cost about 1 us,
#: for the same few parameters (lr=0.1) at every call.
_exact_floats: Dict[float, bool] = {}


def to_value(value: Any, mangle: bool) -> Optional[pb.Value]:
    """A typed MLMD value for a Python value; None for None."""
    if value is None:
        return None
    if isinstance(value, bool):
        return pb.Value(bool_value=value)
    if isinstance(value, int):
        if not fits_int_value(value):
            return pb.Value(double_value=float(value))
        return pb.Value(int_value=value)
    if isinstance(value, float):
        return pb.Value(double_value=value)
    if isinstance(value, str):
        return pb.Value(string_value=encode(value, mangle))
    return to_struct_value(value, mangle)


def _put_value(values: Any, key: str, value: Any, mangle: bool) -> None:
    """``values[key].CopyFrom(to_value(value, mangle))`` without the copy.

    *value* is not None. Every field of ``pb.Value`` is in one oneof, so
    setting one field in place leaves the same message as a copy would.
    """
    cls = type(value)
    if cls is str:
        values[key].string_value = encode(value, mangle)
    elif cls is float:
        values[key].double_value = value
    elif cls is bool:
        values[key].bool_value = value
    elif cls is int:
        if INT_MIN <= value <= INT_MAX:
            values[key].int_value = value
        else:
            values[key].double_value = float(value)
    else:
        typed = to_value(value, mangle)
        values[key].CopyFrom(typed)


#: PostgreSQL indexes the uri and every string (and struct) property value in
#: btrees whose rows hold at most 2704 bytes: a longer value fails the whole
#: write, unless PostgreSQL happens to compress it enough. A value past this
#: size is stored as a ``proto_value`` (bytes, not indexed) instead, or, for
#: a property declared on an artifact type, left to ``__ALL_META__``.
MAX_INDEXED_BYTES = records.MAX_INDEXED_BYTES
#: Where ``__ALL_META__`` goes when it is too long to be a STRING property.
LONG_META = "__lineage_meta__"
#: Prefix of the custom property holding a declared string property that is
#: too long (an execution's or a context's description, a workspace's labels).
_LONG = "__lineage_long__."


def _indexed_size(value: pb.Value) -> int:
    """Bytes MLMD puts in an indexed column for *value* (0: not indexed)."""
    which = value.WhichOneof("value")
    if which == "string_value":
        text = value.string_value
        return len(text) if len(text) * 4 <= MAX_INDEXED_BYTES else len(text.encode("utf-8"))
    if which == "struct_value":
        # stored as "mlmd-struct::" + base64 of the serialized struct
        return 13 + 4 * ((value.struct_value.ByteSize() + 2) // 3)
    return 0


def _spilled(value: pb.Value) -> pb.Value:
    """*value* (string or struct) as an unindexed ``proto_value``."""
    packed = any_pb2.Any()
    if value.WhichOneof("value") == "string_value":
        # raw text: bytes need no escaping
        packed.Pack(wrappers_pb2.StringValue(value=decode(value.string_value)))
    else:
        packed.Pack(value.struct_value)
    return pb.Value(proto_value=packed)


#: A str at most this long is under the index limit once encoded (encode()
#: at most doubles the characters; UTF-8 takes at most 4 bytes each), so
#: the common short values skip the size check.
_SHORT_TEXT = MAX_INDEXED_BYTES // 8
_NEVER_INDEXED = (int, float, bool)


def _fits_index(value: Any) -> bool:
    """True when *value* certainly stays under the index limit, as stored."""
    cls = type(value)
    return cls in _NEVER_INDEXED or (cls is str and len(value) <= _SHORT_TEXT)


def _put_custom(custom: Any, key: str, value: Any, mangle: bool) -> None:
    """Set a custom property; one too long to index is spilled."""
    cls = type(value)
    if cls is str:
        if len(value) <= _SHORT_TEXT:  # the common case, set in place at once
            custom[key].string_value = encode(value, mangle)
            return
    elif cls is float:
        custom[key].double_value = value
        return
    elif cls is bool:
        custom[key].bool_value = value
        return
    _put_value(custom, key, value, mangle)
    if _fits_index(value):
        return
    if _indexed_size(custom[key]) > MAX_INDEXED_BYTES:
        custom[key].CopyFrom(_spilled(custom[key]))


def _put_declared_string(proto: Any, key: str, text: str, mangle: bool) -> None:
    """Set a declared STRING property of an execution or context, or its long form."""
    stored = pb.Value(string_value=encode(text, mangle))
    if _indexed_size(stored) > MAX_INDEXED_BYTES:
        proto.custom_properties[_LONG + key].CopyFrom(_spilled(stored))
    else:
        proto.properties[key].CopyFrom(stored)


def _long_declared(custom: Mapping[str, Any]) -> Dict[str, Any]:
    """Declared string properties that were stored in their long form, by name."""
    return {key[len(_LONG) :]: value for key, value in custom.items() if key.startswith(_LONG)}


def to_struct_value(value: Any, mangle: bool) -> pb.Value:
    """An MLMD struct value for any JSON-able value (for STRUCT properties).

    A mapping is the struct itself; MLMD has no list value, so a list is
    wrapped as ``{"items": [...]}``, and a scalar (a field typed ``Any`` or
    ``Union[int, str]``) as ``{"value": ...}``.
    """
    struct = struct_pb2.Struct()
    if isinstance(value, Mapping):
        struct.update(_encode_json_strings(value, mangle))
    elif isinstance(value, (list, tuple)):
        struct.update({"items": _encode_json_strings(list(value), mangle)})
    else:
        struct.update({"value": _encode_json_strings(value, mangle)})
    return pb.Value(struct_value=struct)


def as_struct_value(value: pb.Value) -> pb.Value:
    """*value* (a typed property as set) as the struct :func:`to_struct_value`
    makes of it: ``{"value": ...}``. For a property the store's type declares
    as STRUCT where the record class now has another kind (see
    Backend.held_as_structs). A string stays as it was escaped."""
    which = value.WhichOneof("value")
    if which not in ("string_value", "int_value", "double_value", "bool_value"):
        return value
    struct = struct_pb2.Struct()
    struct.update({"value": getattr(value, which)})
    return pb.Value(struct_value=struct)


def from_value(value: pb.Value, text: Any = decode) -> Any:
    """The Python value of an MLMD value (strings decoded).

    Args:
        text: What undoes the escaping of strings: :func:`decode`, or
            ``_as_stored`` for a node another client wrote (:func:`decoder_for`).
    """
    which = value.WhichOneof("value")
    if which == "string_value":
        return text(value.string_value)
    if which == "int_value":
        return value.int_value
    if which == "double_value":
        return value.double_value
    if which == "bool_value":
        return value.bool_value
    if which == "struct_value":
        return _decode_json_strings(_struct_dict(value.struct_value), text)
    if which == "proto_value":
        packed = value.proto_value
        if packed.Is(wrappers_pb2.StringValue.DESCRIPTOR):
            text = wrappers_pb2.StringValue()
            packed.Unpack(text)
            return text.value  # stored raw, see _spilled()
        if packed.Is(struct_pb2.Struct.DESCRIPTOR):
            struct = struct_pb2.Struct()
            packed.Unpack(struct)
            return _decode_json_strings(_struct_dict(struct), text)
        return packed.SerializeToString()
    return None


def _struct_dict(struct: struct_pb2.Struct) -> Dict[str, Any]:
    """A Struct as Python values, as ``json_format.MessageToDict`` gives them
    (numbers as floats), but NaN and infinities kept: another tool's struct
    holding one raised ValueError there, and reading its artifact failed."""
    return {key: _struct_value(item) for key, item in struct.fields.items()}


def _struct_value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return _struct_dict(value.struct_value)
    if kind == "list_value":
        return [_struct_value(item) for item in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)


def _numbers(prefix: str, mapping: Optional[Mapping[str, Any]], taken: Any = ()) -> List[Tuple[str, Any]]:
    """The top-level numbers of a record's mapping (Metrics.values, ...) as
    custom properties ``prefix.key``, to query by. ``__ALL_META__`` keeps
    the mapping whole; a key that cannot name a property on every backend
    (too long, or equal to an earlier one as MySQL compares names) gets no
    such copy.

    Args:
        taken: The :func:`records.property_name_key` of the names other
            custom properties of the artifact hold (its extra properties):
            a copy of the same key gets no copy either.
    """
    if not mapping:
        return []
    out = []
    folded = set(taken)
    for key, value in mapping.items():
        if isinstance(value, (int, float, bool)) and not (isinstance(value, float) and not math.isfinite(value)):
            name = f"{prefix}.{key}"
            if records.stored_name_bytes(name) > records.MAX_NAME_BYTES:
                continue
            fold = records.property_name_key(name)
            if fold in folded:
                continue
            folded.add(fold)
            out.append((name, value))
    return out


# --------------------------------------------------------------------------- types


# Type protos are built once: the writer asks for one per logged artifact
# and per execution. They are shared, so callers must not modify them.
_artifact_types: Dict[int, Tuple[RecordSchema, pb.ArtifactType]] = {}
_execution_types: Dict[str, pb.ExecutionType] = {}
_context_types: Dict[str, pb.ContextType] = {}


def artifact_type(schema: RecordSchema) -> pb.ArtifactType:
    """The MLMD artifact type of a record schema (shared: do not modify)."""
    cached = _artifact_types.get(id(schema))
    if cached is not None and cached[0] is schema:
        return cached[1]
    props = {spec.name: _KIND_TO_MLMD[spec.kind] for spec in schema.properties}
    props[ALL_META] = pb.STRING
    proto = pb.ArtifactType(name=schema.type_name, external_id=schema.type_name, properties=props)
    if schema.base_type:
        proto.base_type = getattr(pb.ArtifactType.SystemDefinedBaseType, schema.base_type)
    _artifact_types[id(schema)] = (schema, proto)  # holds the schema: its id stays unique
    return proto


def execution_type(name: str = EXECUTION_TYPE_NAME) -> pb.ExecutionType:
    """The MLMD execution type (shared: do not modify)."""
    proto = _execution_types.get(name)
    if proto is None:
        proto = _execution_types[name] = pb.ExecutionType(name=name, external_id=name, properties=EXECUTION_PROPERTIES)
    return proto


def workspace_type() -> pb.ContextType:
    """The workspace context type (shared: do not modify)."""
    proto = _context_types.get(WORKSPACE_TYPE_NAME)
    if proto is None:
        proto = _context_types[WORKSPACE_TYPE_NAME] = pb.ContextType(
            name=WORKSPACE_TYPE_NAME, external_id=WORKSPACE_TYPE_NAME, properties=WORKSPACE_PROPERTIES
        )
    return proto


def run_type() -> pb.ContextType:
    """The run context type (shared: do not modify)."""
    proto = _context_types.get(RUN_TYPE_NAME)
    if proto is None:
        proto = _context_types[RUN_TYPE_NAME] = pb.ContextType(
            name=RUN_TYPE_NAME, external_id=RUN_TYPE_NAME, properties=RUN_PROPERTIES
        )
    return proto


# --------------------------------------------------------------------------- artifacts


#: Per record class: (JSON text before each field's value, field name).
_meta_layouts: Dict[type, Tuple[Tuple[str, str], ...]] = {}


def _meta_text(record: Artifact) -> str:
    """The ``__ALL_META__`` text: every field as JSON, like the Kubeflow SDK's
    ``json.dumps(self.__dict__)`` (whose name for the extra properties is
    ``kwargs``).

    Built field by field: a JSON object's text is its keys' and values'
    texts joined, and strings and nulls (most fields) need no encoder.
    """
    cls = type(record)
    layout = _meta_layouts.get(cls)
    if layout is None:
        names = records.field_names(cls)
        layout = _meta_layouts[cls] = tuple(
            (("{" if index == 0 else ", ") + _json_string("kwargs" if name == "extra" else name) + ": ", name)
            for index, name in enumerate(names)
        )
    if not layout:
        return "{}"
    return (
        "".join(
            [
                head + ("null" if value is None else _json_string(value) if type(value) is str else _meta_value(name, value))
                for head, name in layout
                for value in (getattr(record, name),)
            ]
        )
        + "}"
    )


def keep_while_alive(table: Dict[int, Any], record: Any, value: Any) -> None:
    """Keep *value* in *table* (by the record's id, with a weak reference to
    it) while *record* lives; nothing for a record class without weakref
    support. One dict operation: tables may be shared by threads."""
    rid = id(record)
    try:
        ref = weakref.ref(record, lambda _: table.pop(rid, None))
    except TypeError:
        return
    table[rid] = (ref, value)


#: id of a record made from a Kubeflow SDK-style object -> (a weak reference
#: to it, the ``__ALL_META__`` text its ``serialization()`` gave). The SDK
#: stored that text as it was (the class's own attributes at the top level):
#: stored in lineage's layout instead, both SDKs' Workspace.list() gave the
#: object's attributes under "kwargs" and keys the class never had.
_kubeflow_meta: Dict[int, Tuple[Any, str]] = {}


def _kubeflow_meta_text(record: Artifact) -> Optional[str]:
    """The ``__ALL_META__`` text of the Kubeflow SDK-style object *record*
    was made from (see record_from_kubeflow_style), or None."""
    kept = _kubeflow_meta.get(id(record))
    return kept[1] if kept is not None and kept[0]() is record else None


def _meta_value(name: str, value: Any) -> str:
    if name == "extra":
        return _META_JSON.encode(dict(value)) if value else "{}"
    return _META_JSON.encode(value)


#: The record fields whose numbers are also custom properties
#: (``values.<key>`` of Metrics, ``hyperparameters.<key>`` of Model).
_NUMBER_FIELDS = ("values", "hyperparameters")


# Made once: json.dumps() builds an encoder per call when given options.
# Same options, so the same text, as json.dumps(..., ensure_ascii=False,
# separators=...) (", " and ": " are the defaults without indent).
# A custom record's datetime, date and Enum fields as records.stored_form
# writes them (called for no other value: the fields hold JSON-able data).
_META_JSON = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": "), default=records.stored_form)
_KEY_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=records.stored_form)
# The JSON text of one str, as json.dumps(..., ensure_ascii=False) writes it.
_json_string = json.encoder.encode_basestring


def dedup_key(schema: RecordSchema, record: Artifact, workspace: Optional[str], digest: Optional[str] = None) -> str:
    """The deterministic external_id of a deduplicated artifact.

    Same type, uri, name, version and workspace (and content digest when one
    is known) give the same key: the Kubeflow SDK's rule, as an indexed lookup.
    """
    type_name, uri, name, version = schema.type_name, record.uri, record.name, getattr(record, "version", None)
    if (
        type(type_name) is str
        and type(uri) is str
        and type(name) is str
        and (version is None or type(version) is str)
        and (workspace is None or type(workspace) is str)
        and (not digest or type(digest) is str)
    ):
        # The common case, strings and nulls: their compact JSON, built
        # directly (what _dedup_blob writes, without building a list to encode).
        blob = (
            f"[{_json_string(type_name)},{_json_string(uri)},{_json_string(name)},"
            f"{'null' if version is None else _json_string(version)},"
            f"{'null' if workspace is None else _json_string(workspace)}{',' + _json_string(digest) if digest else ''}]"
        )
    else:
        blob = _dedup_blob(schema, record, workspace, digest)
    return "lineage:artifact:" + hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _dedup_blob(schema: RecordSchema, record: Artifact, workspace: Optional[str], digest: Optional[str]) -> str:
    """The text dedup_key hashes: the compact JSON list of the record's
    identity (a custom type's own ``version`` field may be any JSON)."""
    identity = [schema.type_name, record.uri, record.name, getattr(record, "version", None), workspace]
    if digest:
        identity.append(digest)
    return _KEY_JSON.encode(identity)


# (pid, 64 random bits as hex, counter): a fresh random prefix per process
# (and after a fork) and a counter make ids unique without a system call
# for randomness per id.
_id_source: Tuple[int, str, Any] = (0, "", None)
_id_lock = threading.Lock()
renew_after_fork(globals(), "_id_lock")



def new_external_id(kind: str) -> str:
    """A client-made external id for a node that never deduplicates.

    32 hex digits: 16 random per process, then a 16-digit counter.
    """
    global _id_source
    pid, prefix, counter = _id_source
    if pid != os.getpid():
        with _id_lock:
            if _id_source[0] != os.getpid():
                _id_source = (os.getpid(), os.urandom(8).hex(), itertools.count())
            pid, prefix, counter = _id_source
    return f"lineage:{kind}:{prefix}{next(counter):016x}"


#: Per record class: its schema, its string properties, its other
#: properties, the number fields it has and the check of its declared
#: fields (a custom class's; worked out once).
_artifact_plans: Dict[type, Tuple[RecordSchema, Tuple[str, ...], Tuple[Any, ...], Tuple[str, ...], Any]] = {}
#: (type id, workspace, run, mangle) -> an artifact with those set, copied
#: for each artifact a write sends (shared: not to be modified).
_artifact_templates: Dict[Tuple[int, Optional[str], Optional[str], bool], pb.Artifact] = {}


def _artifact_plan(cls: type) -> Tuple[RecordSchema, Tuple[str, ...], Tuple[Any, ...], Tuple[str, ...], Any]:
    plan = _artifact_plans.get(cls)
    if plan is None:
        schema = schema_of(cls)
        fields = records.field_names(cls)
        plan = _artifact_plans[cls] = (
            schema,
            tuple(spec.name for spec in schema.properties if spec.kind == STR),
            tuple(spec for spec in schema.properties if spec.kind != STR),
            tuple(prefix for prefix in _NUMBER_FIELDS if prefix in fields),
            None if schema.cls is schema.builtin else records.check_current,
        )
    return plan


def _artifact_template(type_id: int, workspace: Optional[str], run: Optional[str], mangle: bool) -> pb.Artifact:
    key = (type_id, workspace, run, mangle)
    template = _artifact_templates.get(key)
    if template is None:
        template = pb.Artifact(type_id=type_id)
        if workspace is not None:
            template.custom_properties[WORKSPACE_PROPERTY].string_value = encode(workspace, mangle)
        if run is not None:
            template.custom_properties[RUN_PROPERTY].string_value = encode(run, mangle)
        if len(_artifact_templates) >= 1024:  # workspaces and runs made on the fly: stay bounded
            _artifact_templates.clear()
        _artifact_templates[key] = template
    return template


def artifact_to_proto(
    record: Artifact,
    type_id: int,
    *,
    workspace: Optional[str],
    run: Optional[str],
    external_id: str,
    mangle: bool,
) -> pb.Artifact:
    """Serialize a record in the Kubeflow layout.

    Raises:
        InvalidTypeError: a custom record's field holds a value of the
            wrong type (changed in place since it was set), named.
        InvalidValueError: one holds a value it cannot store, named.
    """
    _, string_names, other_specs, number_fields, check = _artifact_plan(type(record))
    if check is not None:
        check(record)  # a field changed in place since it was set
    meta_text = _meta_text(record)
    # __ALL_META__ holds every field: without U+E000 or a backslash in its
    # JSON (which writes NUL and control characters as \u escapes), no
    # string of the record needs escaping for any backend.
    plain = _MARK not in meta_text and "\\" not in meta_text
    uri = record.uri if plain else encode(record.uri, mangle)
    if len(uri) * 4 > records.MAX_URI_BYTES and len(uri.encode("utf-8")) > records.MAX_URI_BYTES:
        raise InvalidValueError(
            f"{type(record).__name__}.uri takes more than {records.MAX_URI_BYTES} bytes once escaped for this store "
            f"(NUL and backslashes take 4 bytes each), got {describe(record.uri)}"
        )
    proto = pb.Artifact()
    proto.CopyFrom(_artifact_template(type_id, workspace, run, mangle))
    proto.uri = uri
    proto.external_id = external_id
    properties = proto.properties
    for name in string_names:
        value = getattr(record, name)
        if value is None:
            continue
        if type(value) is str and len(value) <= _SHORT_TEXT:
            properties[name].string_value = value if plain else encode(value, mangle)  # the common case
        else:
            _put_property(properties, name, STR, value, mangle)
    for spec in other_specs:
        value = getattr(record, spec.name)
        if value is not None:
            _put_property(properties, spec.name, spec.kind, value, mangle)
    stored_meta = meta_text if plain else encode(meta_text, mangle)
    own_text = _kubeflow_meta_text(record) if _kubeflow_meta else None
    if own_text is not None:
        # Made from a Kubeflow SDK-style object: the text the SDK stored for it
        # (escaped as any string; the record's own text still says whether
        # its other strings need it).
        meta_text, stored_meta = own_text, encode(own_text, mangle)
    if len(stored_meta) * 4 > MAX_INDEXED_BYTES and len(stored_meta.encode("utf-8")) > MAX_INDEXED_BYTES:
        # Too long to index: the Kubeflow SDK then sees the typed properties only.
        proto.custom_properties[LONG_META].proto_value.Pack(wrappers_pb2.StringValue(value=meta_text))
    else:
        properties[ALL_META].string_value = stored_meta
    extra = record.extra
    # An extra property named as a copy in another case ("VALUES.acc" beside
    # values.acc) is one property on MySQL, which refused the whole write:
    # the extra is the user's, the copy is left to __ALL_META__ (on every
    # backend, so that a store can move).
    taken = [records.property_name_key(key) for key in extra] if extra and number_fields else ()
    for prefix in number_fields:
        for key, value in _numbers(prefix, getattr(record, prefix), taken):
            _put_value(proto.custom_properties, encode(key, mangle), value, mangle)
    if extra:
        custom = proto.custom_properties
        where = f"{type(record).__name__}.extra"
        for key, value in extra.items():
            records.check_property_name(where, key)  # reserved names (workspace, run) refused
            if value is not None:
                _put_custom(custom, encode(key, mangle), value, mangle)
    return proto


#: The classes of values a custom record's field stores in another form
#: (records.FieldSpec.held).
_HELD = (datetime.date, enum.Enum)


def _put_property(properties: Any, name: str, kind: str, value: Any, mangle: bool) -> None:
    """Set a declared property of an artifact; one that cannot be stored
    typed and indexed on every backend is left to ``__ALL_META__``."""
    if isinstance(value, _HELD):  # a custom record's datetime, date or Enum field
        value = records.stored_form(value)
    if kind == FLOAT and isinstance(value, int):
        value = float(value)
    if kind == INT and not fits_int_value(value):
        return  # an INT property cannot hold it on every backend; kept in __ALL_META__
    if kind == JSON:
        properties[name].CopyFrom(to_struct_value(value, mangle))
    else:
        _put_value(properties, name, value, mangle)
    if (kind == JSON or not _fits_index(value)) and _indexed_size(properties[name]) > MAX_INDEXED_BYTES:
        del properties[name]  # too long to index; kept in __ALL_META__


def _set(record: Artifact, name: str, value: Any) -> None:
    # Values read from the store are trusted: skip the constructor's checks
    # so that odd data written by other tools can still be read.
    object.__setattr__(record, name, value)


def artifact_from_proto(proto: pb.Artifact, type_name: str) -> Artifact:
    """Rebuild a record from a stored artifact (Kubeflow layout or plain MLMD)."""
    known = records.record_class_for(type_name)
    cls = known or Artifact
    record = cls.__new__(cls)
    fields = attrs.fields(cls)
    made: List[Any] = []  # fields whose default a factory makes: when the others are set (see below)
    for field in fields:
        default = field.default
        if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
            made.append(field)
            default = None
        elif default is attrs.NOTHING:
            default = None
        _set(record, field.name, default)
    text = decoder_for(proto)
    props = {key: from_value(value, text) for key, value in proto.properties.items() if key != ALL_META}
    meta = _stored_meta(proto, text)
    names = {field.name for field in fields}
    for key, value in props.items():
        if key in names and key not in ("id", "extra"):
            _set(record, key, value)
    for key, value in meta.items():
        if key in names and key not in ("id", "extra", "uri"):
            _set(record, key, value)
    extra: Dict[str, Any] = {}
    if isinstance(meta.get("kwargs"), dict):
        extra.update(meta["kwargs"])
    # What the class does not declare is kept as extra properties, so that
    # nothing stored is lost on read: the fields of a type no class of this
    # process describes, or of another version of the class (exact, from
    # __ALL_META__, else typed), and custom properties other clients set.
    for key, value in meta.items():
        if key not in names and key != "kwargs":
            extra.setdefault(key, value)
    for key, value in props.items():
        if key not in names or key in ("id", "extra"):
            extra.setdefault(key, value)
    # The numbers of values and hyperparameters have typed copies (_numbers).
    copies = tuple(prefix + "." for prefix in _NUMBER_FIELDS if prefix in names or prefix in meta)
    for key, value in proto.custom_properties.items():
        key = text(key)
        if key not in extra and not records.is_reserved_property_name(key) and not key.startswith(copies):
            extra[key] = from_value(value, text)
    _set(record, "extra", extra)
    _set(record, "uri", text(proto.uri))
    if not getattr(record, "name", None):
        _set(record, "name", text(proto.name) if proto.name else "")
    _set(record, "id", proto.id)
    if known is not None:
        for name, held in records.held_fields(cls):
            # A datetime, date or Enum field, stored as ISO text or the
            # member's value: read back as it was. One that does not read
            # so (an Enum without that member now) is left as stored: a
            # read must not fail for it.
            value = getattr(record, name)
            if value is not None:
                try:
                    _set(record, name, records.read_held(held, value))
                except (ValueError, TypeError):
                    pass
    for field in made:
        # A field the artifact did not store (one added to the class since)
        # gets its factory's default; one that takes the record (a label
        # made from the name) gets it as read, its other fields set. A read
        # must not fail for a factory: one that fails leaves the field None.
        if field.name not in props and field.name not in meta and field.name != "extra":
            try:
                _set(record, field.name, field.default.factory(record) if field.default.takes_self else field.default.factory())
            except Exception:
                pass
    return record


def is_kubeflow_style(obj: Any) -> bool:
    """Whether *obj* is an artifact in the Kubeflow SDK's own style: a class
    with ``ARTIFACT_TYPE_NAME`` and ``serialization()`` (returning an MLMD
    Artifact), not a lineage record with attrs fields."""
    cls = type(obj)
    return (
        callable(getattr(obj, "serialization", None))
        and isinstance(getattr(cls, "ARTIFACT_TYPE_NAME", None), str)
        and "__attrs_attrs__" not in cls.__dict__
    )


#: MLMD property types as the kinds of records.class_for_type.
_KIND_OF_PROPERTY_TYPE = {pb.STRING: "str", pb.INT: "int", pb.DOUBLE: "float", pb.BOOLEAN: "bool", pb.STRUCT: "json"}


def declared_kinds(artifact_type: pb.ArtifactType) -> Dict[str, str]:
    """The kinds of the properties a stored artifact type declares."""
    return {
        name: _KIND_OF_PROPERTY_TYPE[kind]
        for name, kind in artifact_type.properties.items()
        if kind in _KIND_OF_PROPERTY_TYPE
    }


def _kind_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str" if isinstance(value, str) else "json"


#: Fields of a record that a Kubeflow SDK-style object's properties do not set.
_SET_BY_LINEAGE = frozenset({"uri", "workspace", "id", "create_time", "extra"})


def record_from_kubeflow_style(obj: Any, declared: Optional[Mapping[str, str]] = None) -> Artifact:
    """The record of a Kubeflow SDK-style artifact, from its ``serialization()``.

    Its properties become fields of the record class of its type (one is
    made for a type no class describes: :func:`records.class_for_type`, with
    the properties the store's type *declared*, else those of this object),
    its custom properties extra properties; lineage sets the workspace, run
    and ``create_time`` itself, as for any record. Its ``__ALL_META__`` is
    stored as the object gave it (a JSON object), as the SDK stored it.

    Raises:
        InvalidTypeError: ``serialization()`` did not return an MLMD Artifact.
        InvalidValueError: a value the record refuses (named, as for any record).
    """
    cls_name = type(obj).__name__
    proto = obj.serialization()
    if not isinstance(proto, pb.Artifact):
        try:  # the message class of another copy of MLMD's protos
            proto = pb.Artifact.FromString(proto.SerializeToString())
        except Exception:
            raise InvalidTypeError(
                f"{cls_name}.serialization() must return an MLMD Artifact (metadata_store_pb2.Artifact), got {describe(proto)}"
            ) from None
    for key in (WORKSPACE_PROPERTY, RUN_PROPERTY):
        if key in proto.custom_properties:
            # As the Kubeflow SDK: lineage names the workspace and run; a
            # serialization() claiming others is refused, not overridden.
            raise ReservedPropertyError(f"{cls_name}.serialization(): custom_properties contains reserved key {key}")
    skip = {ALL_META, "create_time", WORKSPACE_PROPERTY, RUN_PROPERTY}
    values = {k: _raw_value(v) for k, v in proto.properties.items() if k not in skip}
    values = {k: v for k, v in values.items() if v is not None}
    extra = {k: _raw_value(v) for k, v in proto.custom_properties.items() if k not in skip}
    extra = {k: v for k, v in extra.items() if v is not None}
    uri = proto.uri or getattr(obj, "uri", None)
    if not values.get("name"):
        values["name"] = getattr(obj, "name", None) or (uri.rstrip("/").rsplit("/", 1)[-1] if isinstance(uri, str) else None)
    kinds = dict(declared) if declared else {k: _kind_of_value(v) for k, v in values.items()}
    cls = records.class_for_type(type(obj).ARTIFACT_TYPE_NAME, kinds, cls_name)
    fields = set(records.field_names(cls)) - _SET_BY_LINEAGE
    kwargs = {k: v for k, v in values.items() if k in fields}
    extra.update((k, v) for k, v in values.items() if k not in fields)
    # The SDK's own classes keep nested fields (hyperparameters, labels,
    # values) and their keyword arguments only in __ALL_META__.
    own_text: Optional[str] = proto.properties[ALL_META].string_value if ALL_META in proto.properties else ""
    try:
        meta = json.loads(own_text) if own_text else None
    except ValueError:
        meta = None
    if not isinstance(meta, dict):
        # None, or not a JSON object: neither SDK's list() reads it; stored in lineage's layout
        meta, own_text = {}, None
    for key, value in meta.items():
        if key in fields and key not in kwargs and value is not None:
            kwargs[key] = value
    if isinstance(meta.get("kwargs"), dict):
        extra = {**meta["kwargs"], **extra}
    # What the object kept only in __ALL_META__ (the SDK's pattern for nested
    # fields, json.dumps(self.__dict__)) and its class has no field for is
    # an extra property, as when lineage reads what the SDK wrote: it was lost.
    # Only what a record can hold: the SDK took any attribute in its JSON, and
    # an object it logged (and lineage logged before) is not refused for one
    # (a NaN, an int past 64 bits, "lr" beside "LR"): it stays in nothing but
    # the object, as before.
    taken = {records.property_name_key(k) for k in extra if isinstance(k, str)}
    for key, value in meta.items():
        if (
            key not in fields
            and key not in _SET_BY_LINEAGE
            and key != "kwargs"
            and value is not None
            and isinstance(key, str)
            and key
            and not records.is_reserved_property_name(key)
            and records.property_name_key(key) not in taken
        ):
            try:
                records.check_extra_items(f"{cls_name}.__ALL_META__", {key: value})
            except (InvalidTypeError, InvalidValueError):
                continue
            extra[key] = value
            taken.add(records.property_name_key(key))
    # The SDK's own classes keep the workspace they were given (a field,
    # not the workspace logged in) in __ALL_META__ only.
    if "workspace" in records.field_names(cls) and isinstance(meta.get("workspace"), str):
        kwargs["workspace"] = meta["workspace"]
    # A custom property named like a field of the record (a "version" custom
    # property) sets it, unless a property did; it cannot be an extra one.
    for key in fields.intersection(extra):
        kwargs.setdefault(key, extra[key])
    extra = {k: v for k, v in extra.items() if k not in fields and k not in _SET_BY_LINEAGE}
    if records.is_builtin(cls):
        record = cls(uri=uri, **kwargs, **extra)
    else:
        record = cls(uri=uri, **kwargs, extra=extra)
    if own_text is not None:
        keep_while_alive(_kubeflow_meta, record, own_text)
    return record  # type: ignore[no-any-return]


def _json_object(text: str) -> Dict[str, Any]:
    """The JSON object *text* holds; empty when it holds none."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _raw_value(value: pb.Value) -> Any:
    """A value as the Kubeflow SDK-style class set it (no lineage escaping to undo)."""
    which = value.WhichOneof("value")
    if which in ("string_value", "int_value", "double_value", "bool_value"):
        return getattr(value, which)
    if which == "struct_value":
        return _struct_dict(value.struct_value)
    return None


def _stored_meta(proto: pb.Artifact, text: Any = decode) -> Dict[str, Any]:
    """The fields an artifact stored as JSON: ``__ALL_META__``, or its long
    form (see artifact_to_proto); empty when neither holds a JSON object."""
    if ALL_META in proto.properties:
        raw = from_value(proto.properties[ALL_META], text)
    elif LONG_META in proto.custom_properties:
        raw = from_value(proto.custom_properties[LONG_META], text)
    else:
        return {}
    return _json_object(raw) if isinstance(raw, str) else {}


def stored_field(proto: pb.Artifact, name: str, text: Any = decode) -> Any:
    """A field of a record as its artifact stores it in ``__ALL_META__``
    (see _stored_meta), or None: for a field left out of the typed
    properties (a value too long to index, a kind the store's type declares
    otherwise: Writer.submit)."""
    return _stored_meta(proto, text).get(name)


def flat(proto: pb.Artifact) -> Dict[str, Any]:
    """The Kubeflow SDK's flat dict of an artifact (``Workspace.list``)."""
    result: Dict[str, Any] = {"id": proto.id}
    text = decoder_for(proto)
    custom = proto.custom_properties
    if WORKSPACE_PROPERTY in custom:
        result["workspace"] = text(custom[WORKSPACE_PROPERTY].string_value)
    if RUN_PROPERTY in custom:
        result["run"] = text(custom[RUN_PROPERTY].string_value)
    # Sorted: protobuf maps have no stable order (two runs of `lineage ls
    # --json` printed the same artifact's keys in two orders).
    for key, value in sorted(proto.properties.items()):
        if key != ALL_META:
            result[key] = from_value(value, text)
    meta = _stored_meta(proto, text)
    for key, value in meta.items():
        # __ALL_META__ is exact where a typed property is not (a struct
        # turns ints into floats and wraps lists); for the Kubeflow types'
        # STRING properties both agree. Its id and workspace are the
        # record's as it was logged (null), not the stored artifact's.
        if key not in result or key not in ("id", "workspace"):
            result[key] = value
    if RUN_PROPERTY in custom and ("run" in meta or "run" in proto.properties):
        # A field of the record's own named run (a custom class's): its value
        # under its name, and the run it was logged in under lineage's name
        # for it. One of the two was lost (a run=None read as the run's name).
        result["lineage.run"] = text(custom[RUN_PROPERTY].string_value)
    if "uri" not in result:
        result["uri"] = text(proto.uri)
    return result


def name_type(row: Dict[str, Any], type_name: str) -> None:
    """Put an artifact's type name in its flat dict (*row*, see flat) under
    ``"type"``, or under ``"lineage.type"`` when the record has a field of
    its own named ``type`` (a custom class's), which keeps its value: it was
    replaced by the type name."""
    row["lineage.type" if "type" in row else "type"] = type_name


def type_of_row(row: Dict[str, Any]) -> str:
    """The type name :func:`name_type` put in *row*."""
    return str(row.get("lineage.type", row.get("type")))


def digest_properties(proto: pb.Artifact) -> Dict[str, Any]:
    """The content digest stored on an artifact that names a local file
    (``lineage.digest``, ``lineage.size``, and its scope and reason), under
    those names; empty for one with none. Records read back leave them out
    (the names are lineage's, not fields), so the read tools add them: two
    rows of one uri and name that differ only in content looked the same."""
    custom = proto.custom_properties
    text = decoder_for(proto)
    return {name: from_value(custom[name], text) for name in _digest.PROPERTY_NAMES if name in custom}


# --------------------------------------------------------------------------- executions, contexts


def execution_to_proto(
    type_id: int,
    *,
    name: str,
    description: Optional[str],
    create_time: str,
    workspace: Optional[str],
    run: Optional[str],
    external_id: str,
    mangle: bool,
) -> pb.Execution:
    """A new execution in the Kubeflow layout, state RUNNING."""
    proto = pb.Execution(type_id=type_id, external_id=external_id, last_known_state=pb.Execution.RUNNING)
    proto.properties["name"].string_value = encode(name, mangle)
    proto.properties["create_time"].string_value = create_time
    if description is not None:
        _put_declared_string(proto, "description", description, mangle)
    if workspace is not None:
        proto.custom_properties[WORKSPACE_PROPERTY].string_value = encode(workspace, mangle)
    if run is not None:
        proto.custom_properties[RUN_PROPERTY].string_value = encode(run, mangle)
    return proto


def set_custom(proto: Any, values: Mapping[str, Any], mangle: bool) -> None:
    """Set typed custom properties on a node (None removes one)."""
    custom = proto.custom_properties
    for key, value in values.items():
        name = encode(key, mangle)
        if value is None:
            if name in custom:
                del custom[name]
        else:
            _put_custom(custom, name, value, mangle)


#: MLMD's limit on context names (see records.MAX_CONTEXT_NAME_BYTES).
MAX_CONTEXT_NAME = MAX_CONTEXT_NAME_BYTES


def _size(stored: str) -> int:
    return len(stored.encode("utf-8"))


def workspace_context(type_id: int, name: str, description: Optional[str], labels: Optional[Mapping[str, Any]], mangle: bool) -> pb.Context:
    """A new workspace context, named like the Kubeflow SDK named it.

    Raises:
        InvalidValueError: the name is too long for MLMD on PostgreSQL and
            MySQL (refused on every backend, so that a store can move).
    """
    stored = encode(name, mangle)
    if _size(stored) > MAX_CONTEXT_NAME:
        raise InvalidValueError(
            f"Workspace 'name' must be at most {MAX_CONTEXT_NAME} bytes of UTF-8 (MLMD's limit), "
            f"got {_size(stored)}: {describe(name)}"
        )
    proto = pb.Context(type_id=type_id, name=stored)
    if description is not None:
        _put_declared_string(proto, "description", description, mangle)
    if labels is not None:
        _put_declared_string(proto, "labels", json.dumps(labels, ensure_ascii=False), mangle)
    return proto


def run_context_name(workspace: str, run: str) -> str:
    """The unique MLMD name of a run: qualified by its workspace.

    ``/`` and ``%`` in the workspace part are percent-escaped so that
    ("a/b", "c") and ("a", "b/c") get different names.
    """
    return workspace.replace("%", "%25").replace("/", "%2F") + "/" + run


def _stored_run_name(workspace: str, run: str, mangle: bool) -> str:
    # A name longer than MLMD's VARCHAR(255) keeps a readable prefix and ends
    # with a digest of the whole; the run's own name is in its properties.
    full = run_context_name(workspace, run)
    stored = encode(full, mangle)
    if _size(stored) <= MAX_CONTEXT_NAME:
        return stored
    digest = "...#" + hashlib.sha256(full.encode("utf-8")).hexdigest()[:40]
    keep = full[: MAX_CONTEXT_NAME - len(digest)]
    while _size(encode(keep, mangle)) > MAX_CONTEXT_NAME - len(digest):
        keep = keep[:-1]
    return encode(keep, mangle) + digest


def run_context(type_id: int, workspace: str, name: str, description: Optional[str], mangle: bool) -> pb.Context:
    proto = pb.Context(type_id=type_id, name=_stored_run_name(workspace, name, mangle))
    proto.properties["name"].string_value = encode(name, mangle)
    proto.properties["workspace"].string_value = encode(workspace, mangle)
    if description is not None:
        _put_declared_string(proto, "description", description, mangle)
    return proto


def context_summary(proto: pb.Context) -> Dict[str, Any]:
    # A context has no external id to tell who wrote it (escaped_by_lineage):
    # a name not in lineage's escaped form is another client's, and so are
    # its other strings.
    text = decode if in_escaped_form(proto.name) else _as_stored
    out: Dict[str, Any] = {"id": proto.id, "name": text(proto.name)}
    for key, value in proto.properties.items():
        out[key] = from_value(value, text)
    for key, value in _long_declared(proto.custom_properties).items():
        out.setdefault(key, from_value(value, text))
    if isinstance(out.get("labels"), str):
        try:
            out["labels"] = json.loads(out["labels"])
        except ValueError:
            pass
    return out


_SUMMARY_KEYS = frozenset(
    {"id", "state", "external_id", "workspace", "run", "properties", "type", "create_time_ms", "last_update_time_ms"}
)


def execution_summary(proto: pb.Execution) -> Dict[str, Any]:
    out: Dict[str, Any] = {
        "id": proto.id,
        "state": pb.Execution.State.Name(proto.last_known_state),
        "external_id": proto.external_id or None,
    }
    # Sorted: protobuf maps have no stable order (exports of one graph
    # differed from one process to the next).
    # A property another tool declared under a name the summary itself uses
    # (TFX's "state", an "id") is one of its properties, not the summary's.
    shadowed: Dict[str, Any] = {}
    text = decoder_for(proto)
    for key, value in sorted(proto.properties.items()):
        if key in _SUMMARY_KEYS:
            shadowed[key] = from_value(value, text)
        elif key != ALL_META:
            out[key] = from_value(value, text)
    for key, value in _long_declared(proto.custom_properties).items():
        if key not in _SUMMARY_KEYS:
            out.setdefault(key, from_value(value, text))
    custom = {text(k): from_value(v, text) for k, v in sorted(proto.custom_properties.items()) if not k.startswith(_LONG)}
    for key, value in shadowed.items():
        custom.setdefault(key, value)
    out["workspace"] = custom.pop(WORKSPACE_PROPERTY, None)
    out["run"] = custom.pop(RUN_PROPERTY, None)
    exact = custom.get("lineage.params")
    if isinstance(exact, str):
        # The typed copies of params are what MLMD could keep (6 decimals,
        # 32-bit ints, structs of floats); lineage.params has them as given.
        try:
            params = json.loads(exact)
        except ValueError:
            params = None
        if isinstance(params, dict):
            # Not a param named as one of lineage's own properties (a
            # **kwargs item "lineage.end_time", a parameter __kf_run__): it
            # was kept in lineage.params only, and shown over the end time
            # (an OpenLineage eventTime "never") and the run.
            custom.update((k, v) for k, v in params.items() if not records.is_reserved_property_name(k))
    out["properties"] = custom
    # Executions that other tools wrote: MLMD's own name and type.
    if out.get("name") is None and proto.name:
        out["name"] = text(proto.name)
    if proto.type:
        out["type"] = proto.type
    if proto.create_time_since_epoch:
        out["create_time_ms"] = proto.create_time_since_epoch
    if proto.last_update_time_since_epoch:
        out["last_update_time_ms"] = proto.last_update_time_since_epoch
    return out


def event_type_name(event: pb.Event) -> str:
    return pb.Event.Type.Name(event.type)


def event_path(event: pb.Event) -> Optional[str]:
    parts: List[str] = []
    for step in event.path.steps:
        if step.HasField("key"):
            parts.append(decode(step.key))
        elif step.HasField("index"):
            parts.append(str(step.index))
    return ".".join(parts) if parts else None
