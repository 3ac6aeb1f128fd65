"""Arguments, return values and annotations -> artifacts and parameters.

The rules, in order, for one bound argument (or one part of a return value):

1. a lineage record (``DataSet``, ``Model``, ...) is an artifact; so is an
   object of the Kubeflow SDK's own classes (``metadata.DataSet``) or of one
   written their way (``ARTIFACT_TYPE_NAME`` and ``serialization()``), which
   the execution makes a record of as its ``Execution.log_input`` does;
2. a list/tuple/dict (also a NamedTuple, an attrs or dataclass config, an
   ``argparse.Namespace``, a ``SimpleNamespace`` or a plain object, of a
   class writing no repr of its own: its ``__dict__``) is looked into, one
   level per container, and its records are artifacts with the index, key,
   field or attribute name appended to the event path; what else an
   argument holds beside them is its parameter (a dict of those items, a
   list's or tuple's keyed by their index as text: ``{"1": 3}``);
3. a ``str`` or ``os.PathLike`` whose annotation names a record class
   (``path: DataSet``, ``-> Annotated[Path, Model]``) becomes that record,
   ``uri`` an absolute ``file://`` URI (or the string itself if it already is
   a URI) and ``name`` the file name; so do the items of a collection
   annotated with one (``List[DataSet]``, ``Dict[str, DataSet]``,
   ``*paths: DataSet``, ``-> list[Model]``);
4. an object of a type given to :func:`register_converter` is converted by
   the registered function (so lineage never imports pandas or sklearn);
5. anything else is a parameter: typed when it is a bool, int, float or str,
   a struct when it is JSON-able, else a bounded ``repr``. Names that look
   like secrets are recorded as ``***``, except a bool or None, and a number
   unless the name ends with the secret (``token_limit=4096`` is kept,
   ``password=123456`` is not).

With ``@track(inputs=[...])`` a named argument is an input when rules 1-4
find records in it, else, if it is a non-empty ``str`` or ``os.PathLike``
(and no record class is given for it), a ``DataSet`` as in rule 3; anything
else it holds is recorded as a parameter, as if it were not named.
"""

from __future__ import annotations

import array
import collections.abc
import dataclasses
import datetime
import decimal
import enum
import functools
import inspect
import itertools
import json
import math
import numbers
import operator
import os
import re
import sys
import threading
import types
import typing
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import attrs
import wrapt

from lineage._fork import renew_after_fork
from lineage._secrets import REDACTED, _hides, _is_secret, _member_text
from lineage.errors import InvalidTypeError, InvalidValueError, describe, warn_never_raised
from lineage.records import Artifact, DataSet
from lineage.store._codec import is_kubeflow_style

__all__ = ["Binder", "Mapped", "register_converter", "unregister_converter"]

PathStep = Union[str, int]
Found = Tuple[Artifact, Tuple[PathStep, ...]]

_REPR_LIMIT = 256
_MAX_DEPTH = 3
# find_artifacts looks at no more than this many items (elements, values,
# fields; over all levels) of one value, so that a large list argument (5M
# floats) costs no more than a small one. Records past them are not found.
_MAX_ITEMS = 10_000
_PLAIN_TYPES = frozenset({str, bytes, bytearray, int, float, bool, type(None)})
_SCALAR_TYPES = frozenset({int, float, bool, type(None)})
_STR_TYPES = frozenset({str})
_NOT_NUMBERS = frozenset({str, list, tuple, dict})
_FAST_PARAMS = _SCALAR_TYPES | _NOT_NUMBERS  # no numpy number to make plain (the common params: one set lookup)
# The argument types map_arguments maps without looking into them (see there).
_NO_RECORDS = _SCALAR_TYPES | _STR_TYPES
# A string parameter, and the JSON of a list or dict parameter, longer than
# this is bounded (cut, or the value's repr cut to _REPR_LIMIT characters).
_TEXT_LIMIT = 4096
# A list, tuple or dict parameter nested deeper than this is bounded too (see _nested_deeper).
_MAX_NESTING = 20
# Parameters kept as text (see _as_text); datetime.datetime is a date.
_TEXT_TYPES = (datetime.date, datetime.time, decimal.Decimal, enum.Enum)

# --------------------------------------------------------------------------- converters

_converters: Dict[type, Callable[[Any], Any]] = {}
_converter_cache: Dict[type, Optional[Callable[[Any], Any]]] = {}
_converters_lock = threading.Lock()
renew_after_fork(globals(), "_converters_lock")



def register_converter(cls: type, converter: Callable[[Any], Optional[Artifact]]) -> None:
    """Map objects of *cls* (and its subclasses) to artifacts.

    Args:
        cls: The type to convert, e.g. ``pandas.DataFrame``.
        converter: Called with the object; returns a record, or None to
            treat the object as a plain parameter.

    Example::

        lineage.register_converter(pd.DataFrame, lambda df: DataSet(
            uri=df.attrs["source"], name="frame", rows=len(df)))
    """
    if not isinstance(cls, type):
        raise InvalidTypeError(f"register_converter(cls) must be a type, got {describe(cls)}")
    if not callable(converter):
        raise InvalidTypeError(f"register_converter(converter) must be callable, got {describe(converter)}")
    with _converters_lock:
        _converters[cls] = converter
        _converter_cache.clear()


def unregister_converter(cls: type) -> None:
    """Remove the converter registered for *cls* (no error if none)."""
    with _converters_lock:
        _converters.pop(cls, None)
        _converter_cache.clear()


def _converter_for(tp: type) -> Optional[Callable[[Any], Any]]:
    try:
        return _converter_cache[tp]
    except KeyError:
        pass
    found = None
    for base in tp.__mro__:
        if base in _converters:
            found = _converters[base]
            break
    with _converters_lock:
        _converter_cache[tp] = found
    return found


# --------------------------------------------------------------------------- annotations


def record_class_of(annotation: Any) -> Optional[type]:
    """The record class an annotation names (``Model``, ``Optional[Model]``,
    ``Annotated[Path, Model]``), or None."""
    if isinstance(annotation, type) and issubclass(annotation, Artifact):
        return annotation
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        for meta in typing.get_args(annotation)[1:]:
            if isinstance(meta, type) and issubclass(meta, Artifact):
                return meta
        return record_class_of(typing.get_args(annotation)[0])
    if origin is Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        classes = [record_class_of(a) for a in typing.get_args(annotation) if a is not type(None)]
        classes = [c for c in classes if c is not None]
        return classes[0] if len(classes) == 1 else None
    return None


def record_classes_in(annotation: Any) -> List[type]:
    """Every record class an annotation names, itself or as a member of a
    Union (``DataSet | Model``, where :func:`record_class_of` names none)."""
    cls = record_class_of(annotation)
    if cls is not None:
        return [cls]
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return record_classes_in(typing.get_args(annotation)[0])
    if origin is Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        found: List[type] = []
        for member in typing.get_args(annotation):
            found.extend(c for c in record_classes_in(member) if c not in found)
        return found
    return []


def _only_records(annotation: Any) -> bool:
    """Whether every member of the annotation (but None) names records:
    ``DataSet``, ``DataSet | Model``, ``Optional[List[DataSet]]``, not
    ``DataSet | str``, whose author allows a str beside the record."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _only_records(typing.get_args(annotation)[0])
    if origin is Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        return all(_only_records(a) for a in typing.get_args(annotation) if a is not type(None))
    return (
        record_class_of(annotation) is not None or item_class_of(annotation) is not None or any(element_classes(annotation) or ())
    )


def _annotation_text(annotation: Any) -> str:
    """An annotation as its author wrote it: ``Optional[DataSet]``, not
    ``typing.Optional[lineage.records.DataSet]``."""
    try:
        text = inspect.formatannotation(annotation)
    except Exception:  # Annotated's metadata with a broken repr: made when decorating, which raised
        if typing.get_origin(annotation) is typing.Annotated:
            return _annotation_text(typing.get_args(annotation)[0])
        return " | ".join(cls.__name__ for cls in record_classes_in(annotation)) or object.__repr__(annotation)
    return re.sub(r"\b(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])", "", text)


def _is_union_type(origin: Any) -> bool:
    import types

    return origin is types.UnionType


_SEQUENCES = frozenset(
    {
        list, tuple, collections.abc.Sequence, collections.abc.MutableSequence,
        collections.abc.Iterable, collections.abc.Collection,
    }
)
_MAPPINGS = frozenset({dict, collections.abc.Mapping, collections.abc.MutableMapping})


def item_class_of(annotation: Any) -> Optional[type]:
    """For a collection of one record class (``List[DataSet]``,
    ``Sequence[DataSet]``, ``Tuple[DataSet, ...]``, ``Dict[str, DataSet]``,
    also in ``Optional`` or ``Annotated``): that class, or None."""
    origin = typing.get_origin(annotation)
    if origin is None:
        return None
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return item_class_of(args[0])
    if origin is Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        classes = {item_class_of(a) for a in args if a is not type(None)} - {None}
        return classes.pop() if len(classes) == 1 else None
    if origin is tuple:
        return record_class_of(args[0]) if len(args) == 2 and args[1] is Ellipsis else None
    if origin in _SEQUENCES:
        return record_class_of(args[0]) if len(args) == 1 else None
    if origin in _MAPPINGS:
        return record_class_of(args[1]) if len(args) == 2 else None
    return None


def element_classes(annotation: Any) -> Optional[List[Optional[type]]]:
    """For ``Tuple[Model, Metrics]`` (also in ``Optional`` or ``Annotated``,
    as :func:`item_class_of` reads them): the record class of each element."""
    origin = typing.get_origin(annotation)
    if origin in (tuple, typing.Tuple):
        args = typing.get_args(annotation)
        if args and args[-1] is not Ellipsis:
            return [record_class_of(a) for a in args]
    if origin is typing.Annotated:
        return element_classes(typing.get_args(annotation)[0])
    if origin is Union or (sys.version_info >= (3, 10) and _is_union_type(origin)):
        # One fixed-length tuple among the members (Optional[Tuple[Model, Metrics]]);
        # the value's length picks it where it is used (a Model beside it is no tuple).
        shapes = [element_classes(a) for a in typing.get_args(annotation) if a is not type(None)]
        shapes = [s for s in shapes if s is not None]
        return shapes[0] if len(shapes) == 1 else None
    return None


def _int_text(value: int) -> str:
    """An int past 64 bits as text: its repr, cut as a long string is (an
    int past Python's 4,300 digits for str() is said by its size)."""
    if value.bit_length() > 14_000:  # about 4,200 digits: str() refuses past 4,300
        return f"<an int of {value.bit_length()} bits>"
    text = repr(value)
    return text if len(text) <= _TEXT_LIMIT else text[:_TEXT_LIMIT] + "..."


# What a file:// URI reads as an escape, its query and its fragment: the path
# "x #1.csv" became the URI of "x ", whose file is missing (no digest). Only
# these are escaped, so that the URI of any other path is as it was.
_URI_SYNTAX = str.maketrans({"%": "%25", "?": "%3F", "#": "%23"})


def path_to_record(value: Any, cls: type) -> Optional[Artifact]:
    """A record of class *cls* for a path or URI string, or None."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        return None
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", value):
        uri = value
        name = value.rstrip("/").rsplit("/", 1)[-1] or value
    else:
        absolute = os.path.abspath(os.path.expanduser(value))
        # Looked for first: translate() costs about 2 us a path, on every call
        escaped = absolute.translate(_URI_SYNTAX) if "%" in absolute or "?" in absolute or "#" in absolute else absolute
        uri = "file://" + escaped
        name = os.path.basename(absolute.rstrip(os.sep)) or absolute
    return cls(uri=uri, name=name)


# --------------------------------------------------------------------------- finding artifacts


def _namespace_attributes(value: Any, plain: bool = True) -> Optional[Dict[str, Any]]:
    """The attributes of an ``argparse.Namespace`` or a ``types.SimpleNamespace``
    (a subclass of either too), or, with *plain*, of a plain object (see
    _plain_attributes), or None for any other value: a bag of attributes,
    looked into as a dataclass config is (``train(args)`` with ``args.data =
    DataSet(...)``: the record was no input, the namespace a parameter).
    argparse is looked up, not imported: until it is, no value is one of its
    namespaces."""
    if isinstance(value, types.SimpleNamespace):
        return vars(value)
    argparse = sys.modules.get("argparse")
    if argparse is not None and isinstance(value, argparse.Namespace):
        return vars(value)
    return _plain_attributes(value) if plain else None


def _plain_attributes(value: Any) -> Optional[Dict[str, Any]]:
    """The attributes of a plain object, an instance of a class that writes
    no repr of its own (``cfg = Config(); cfg.api_key = ...``: a bag of
    attributes, as a namespace is), or None for any other value or one with
    no ``__dict__`` (``__slots__``). Only its ``__dict__`` is read: no
    property, ``__getattr__`` or ``__getattribute__`` of its class is run."""
    if type(value).__repr__ is not object.__repr__:
        return None
    try:
        attributes = object.__getattribute__(value, "__dict__")
    except Exception:  # noqa: BLE001 - no __dict__ (slots), or a broken one: not looked into
        return None
    return attributes if type(attributes) is dict else None


def _convert(value: Any) -> Optional[Artifact]:
    converter = _converter_for(type(value))
    if converter is None:
        return None
    record = converter(value)
    if record is not None and not isinstance(record, Artifact):
        raise InvalidTypeError(
            f"the converter registered for {type(value).__qualname__} returned {describe(record)}, not a lineage record"
        )
    return record


def _is_kubeflow_style(value: Any) -> bool:
    """codec.is_kubeflow_style, after a look at the class alone (the
    containers find_artifacts looks into have no ARTIFACT_TYPE_NAME)."""
    return isinstance(getattr(type(value), "ARTIFACT_TYPE_NAME", None), str) and is_kubeflow_style(value)


def find_artifacts(
    value: Any,
    path: Tuple[PathStep, ...],
    cls: Optional[type] = None,
    depth: int = 0,
    budget: Optional[List[int]] = None,
    items: Optional[type] = None,
    objects: bool = True,
) -> Optional[List[Found]]:
    """The artifacts in *value*, with their event paths; None if it holds none.

    *cls*: the record class a path or URI *value* becomes; *items*: the one
    its items (a list's, a tuple's, a dict's values) become
    (``List[DataSet]``); *objects*: whether a plain object (see
    _plain_attributes) is looked into, as an argument's is, or not, as a
    return value's is not (see outputs_of).

    Containers are looked into at most ``_MAX_ITEMS`` (10,000) items in all,
    counted in order over every level (*budget* is what is left of it, shared
    by the nested calls), so that the cost is bounded whatever the size of
    *value*. A record past the first 10,000 items of a larger list, tuple or
    dict (or nested in one past them) is therefore not found: the argument
    is then recorded as a parameter (a bounded repr), not as an input. A
    list of plain numbers and strings is checked in one pass (its first
    10,000 items) and counts one item per hundred.
    """
    if isinstance(value, Artifact):
        return [(value, path)]
    if cls is not None:
        record = path_to_record(value, cls)
        if record is not None:
            return [(record, path)]
    if _converters:
        record = _convert(value)
        if record is not None:
            return [(record, path)]
    if isinstance(value, (str, bytes, bytearray, int, float, bool)) or value is None:
        return None
    if _is_kubeflow_style(value):
        # An artifact of the Kubeflow SDK's own classes (metadata.DataSet) or
        # written its way: found as it is, and made a record by the execution
        # it is logged to, as its Execution.log_input does (see
        # workspace.kubeflow_style_record). It was a parameter (its repr), or,
        # returned, nothing.
        return [(value, path)]
    if depth >= _MAX_DEPTH:
        return None
    if budget is None:
        budget = [_MAX_ITEMS]
    # a converter may take any type; an item class makes records of strings
    plain = _PLAIN_TYPES if not _converters and items is None else ()
    children: Iterable[Tuple[Any, Any]]
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple
        children = zip(value._fields, value)
    elif isinstance(value, (list, tuple)):
        if plain and len(value) > 32 and plain.issuperset(map(type, itertools.islice(value, budget[0]))):
            # a long list of numbers or strings, checked at C speed: no records.
            # It counts one item per hundred, so that a record beside it
            # ({"features": [0.5] * 10_000, "train": DataSet(...)}) is found.
            budget[0] -= 1 + min(len(value), budget[0]) // 100
            return None
        children = enumerate(value)
    elif isinstance(value, collections.abc.Mapping):
        children = value.items()
    elif attrs.has(type(value)):
        children = ((field.name, getattr(value, field.name)) for field in attrs.fields(type(value)))
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = ((field.name, getattr(value, field.name)) for field in dataclasses.fields(value))
    elif (attributes := _namespace_attributes(value, objects)) is not None:  # train(args): args.data = DataSet(...)
        children = list(attributes.items())
    else:
        return None
    found: List[Found] = []
    for step, item in children:
        if budget[0] <= 0:  # stop looking: see the docstring
            budget[0] = -1  # items were left unseen (0 alone: the last one was seen)
            break
        budget[0] -= 1
        if type(step) is not str and type(step) is not int:
            step = _step(step)  # a dict key an event path cannot hold as it is (a Path, None, a tuple)
        if isinstance(item, Artifact):  # as find_artifacts(item) would, without the call
            found.append((item, path + (step,)))
        elif type(item) not in plain:  # a str or number holds no record: spare the call
            found.extend(find_artifacts(item, path + (step,), items, depth + 1, budget, objects=objects) or ())
    return found or None


_Plan = Tuple[Optional[type], Optional[List[Optional[type]]], Optional[type]]
_plans: Dict[Any, _Plan] = {}


def _annotation_plan(annotation: Any) -> _Plan:
    """(record class, element classes, item class) of a return annotation, worked out once."""
    if annotation is inspect.Signature.empty:
        return None, None, None
    try:
        return _plans[annotation]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation (Annotated with a dict, ...)
        return record_class_of(annotation), element_classes(annotation), item_class_of(annotation)
    plan = (record_class_of(annotation), element_classes(annotation), item_class_of(annotation))
    if len(_plans) >= 4096:
        _plans.clear()
    _plans[annotation] = plan
    return plan


def outputs_of(
    value: Any, annotation: Any = inspect.Signature.empty, explicit: Any = None, root: Tuple[PathStep, ...] = ("return",)
) -> List[Found]:
    """The artifacts a return (or yielded) value carries.

    A plain object (see _plain_attributes) is not looked into, as an
    argument is: the one a method returns is most often its instance
    (``fit`` returning ``self``, as scikit-learn's do), whose attributes hold
    the call's own inputs and the records of earlier calls; each was taken
    for an output of this call (its input data too)."""
    path: Tuple[PathStep, ...] = tuple(root)
    if explicit is not None:
        return _explicit_outputs(value, explicit, path)
    cls, elements, items = _annotation_plan(annotation)
    if elements is not None and isinstance(value, (list, tuple)) and len(elements) == len(value):
        found, missed = _by_position(value, path, elements, objects=False)
        for item, item_cls, item_path in missed:
            _not_mapped(item, item_cls, item_path)
        return found
    budget = [_MAX_ITEMS]
    found = find_artifacts(value, path, cls, budget=budget, items=items, objects=False) or []
    if not found and cls is not None:
        _not_mapped(value, cls, path)
    if budget[0] < 0:  # items were left unseen: any records there are not outputs
        # An argument keeps what was not looked into as a parameter; a
        # return value has nowhere to keep it: say so (it was silent). Never
        # raised (-W error): the records found would be lost with it.
        warn_never_raised(
            f"lineage looked for records in the first {_MAX_ITEMS:,} items of the value returned ({'/'.join(map(str, path))}) "
            f"and found {len(found):,}; records past them are not recorded as outputs (log them with log_output)"
        )
    return found


def _by_position(
    value: Sequence[Any],
    path: Tuple[PathStep, ...],
    elements: List[Optional[type]],
    budget: Optional[List[int]] = None,
    objects: bool = True,
) -> Tuple[List[Found], List[Tuple[Any, type, Tuple[PathStep, ...]]]]:
    """The records of a tuple or list whose annotation gives each position
    its class (``Tuple[Model, Metrics]``, as an argument or a return value),
    and the elements given a class that are no record and made none
    (*objects*: see find_artifacts)."""
    found: List[Found] = []
    missed: List[Tuple[Any, type, Tuple[PathStep, ...]]] = []
    for index, (item, item_cls) in enumerate(zip(value, elements)):
        mapped = find_artifacts(item, path + (index,), item_cls, 1, budget, objects=objects)
        if mapped is None and item_cls is not None:
            missed.append((item, item_cls, path + (index,)))
        found.extend(mapped or ())
    return found, missed


def _not_mapped(value: Any, cls: type, path: Tuple[PathStep, ...]) -> None:
    """Warn (once per record class and type of value) that a value its
    annotation calls a record is none: ``-> Model`` returning a fitted
    estimator, ``-> Metrics`` a dict of scores, was recorded as nothing
    without a word."""
    if value is None:  # Optional[Model]: nothing to record
        return
    from lineage import _config

    if _config.first_warning(("annotated output not mapped", cls, type(value))):
        kind = type(value)
        converter = "" if kind.__module__ == "builtins" else f", or map {kind.__qualname__} with lineage.register_converter"
        # What a generator yields (-> Iterator[Model]) is said as yielded: it returned nothing.
        verb = ("yielded", "yield") if path[:1] == ("yield",) else ("returned", "return")
        # Never raised (-W error): it is said after the call's body ran, and
        # the other records the value holds would be left out with it.
        warn_never_raised(
            f"the value {verb[0]} ({'/'.join(map(str, path))}) is annotated {cls.__name__} but is "
            f"{describe(value)}, which is no {cls.__name__} (nor a path or URI, as a str or Path, to make one of): "
            f"it is not recorded as an output ({verb[1]} a {cls.__name__}{converter})"
        )


def _input_not_mapped(
    name: str, value: Any, annotation: str, classes: List[type], many: bool = False, path: Optional[Tuple[PathStep, ...]] = None
) -> None:
    """Warn (once per parameter, annotation and type of value) that a value
    given for a parameter its annotation calls a record (``data: DataSet``,
    ``model: DataSet | Model``, ``files: List[DataSet]``) made none: it was a
    parameter without a word, though the function's author said it is an
    input. *many*: the annotation is of a collection of records; *path*:
    the element of a fixed-length tuple that made none (the rest of the
    tuple did)."""
    # Optional[DataSet], files=[], a default (None, None): nothing was given
    # (judged from the items mapping looked into, not a million Nones per call).
    if value is None or (
        isinstance(value, (list, tuple, dict)) and all(v is None for v in itertools.islice(_values_of(value), _MAX_ITEMS))
    ):
        return
    from lineage import _config

    kind = type(value)
    if not _config.first_warning(("annotated input not mapped", name, annotation, kind, path is None)):
        return
    # A secret's value is not shown (its parameter is ***), nor a huge one whole.
    shown = REDACTED if _hides(name, value) else _bounded_repr(value)
    shown = f"{shown if len(shown) <= 80 else shown[:77] + '...'} ({kind.__name__})"
    names = " or ".join(cls.__name__ for cls in classes)
    where = f"the argument {name!r}" + ("" if path is None else f" (at {'/'.join(map(str, path))})")
    converter = "" if kind.__module__ == "builtins" else f", or map {kind.__qualname__} with lineage.register_converter"
    if len(classes) > 1 and isinstance(value, (str, os.PathLike)) and path is None:
        why = f", a path or URI; the annotation does not say which of {names} it is"
    elif many and isinstance(value, collections.abc.Iterable) and not isinstance(value, _LOOKED_INTO):
        # A generator (read once: the function's to read), a set (no order
        # for an event path), a deque: lineage looks into lists, tuples and
        # dicts only, and cannot tell what this holds.
        why = f", which lineage does not look into (only a list, tuple or dict): any {names} in it is not recorded"
        converter = ""
    else:
        why = f", which {'holds' if many else 'is'} no {names} (nor a path or URI, as a str or Path, to make one of)"
    # An element of a tuple is kept among the other items (pair={"1": 0.5}): see _rest_of.
    outcome = "it is recorded as a parameter, not as an input"
    if path is not None:
        outcome = f"it is in the parameter {name!r}, not an input"
    # Never raised (-W error, strict mode): a failure of lineage's mapping,
    # not of the call; the function runs as it would untracked.
    warn_never_raised(
        f"{where} is annotated {annotation} but is {shown}{why}: {outcome} "
        f"(pass {'a list of ' if many else ''}{' or '.join(f'{c.__name__}s' if many else f'a {c.__name__}' for c in classes)}"
        f"{converter})"
    )


# What an annotated collection of records is looked into as, or made a record of.
_LOOKED_INTO = (str, bytes, os.PathLike, list, tuple, dict)


def _values_of(value: Any) -> Iterable[Any]:
    return value.values() if isinstance(value, dict) else value


def _explicit_outputs(value: Any, spec: Any, path: Tuple[PathStep, ...]) -> List[Found]:
    # A plain object is not looked into (see outputs_of); outputs={"model": Model} reads its attribute.
    if isinstance(spec, type):
        return find_artifacts(value, path, spec, objects=False) or []
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise InvalidTypeError(f"outputs={spec!r} expects the function to return a tuple or list, got {describe(value)}")
        found: List[Found] = []
        for index, (item, cls) in enumerate(zip(value, spec)):
            if cls is not None:
                found.extend(find_artifacts(item, path + (index,), cls, 1, objects=False) or ())
        return found
    if isinstance(spec, Mapping):
        found = []
        for key, cls in spec.items():
            if isinstance(value, Mapping):
                item = value.get(key)
            else:
                item = getattr(value, key, None)
            if item is not None:
                found.extend(find_artifacts(item, path + (key,), cls, 1, objects=False) or ())
        return found
    raise InvalidTypeError(f"outputs must be a record class, a list of them or a dict of them, got {describe(spec)}")


# --------------------------------------------------------------------------- parameters


def param_value(name: str, value: Any) -> Any:
    """How a parameter is recorded: typed scalar, text (a date, a Decimal, an
    Enum member: see _as_text), JSON-able container (a set as a list), or repr.

    The cost is bounded whatever the size of *value*: a list, tuple or dict
    whose JSON is surely over 4,096 characters goes to its bounded repr
    without being serialised first.
    """
    if _hides(name, value):
        return REDACTED
    if type(value) not in _FAST_PARAMS:
        plain = _as_text(value)
        value = _plain_number(value) if plain is None else plain
        if isinstance(value, (set, frozenset)) and not _json_surely_longer(value, _TEXT_LIMIT):
            value = _for_json(value)  # a list (a large one is its bounded repr, below)
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) or len(value) <= _TEXT_LIMIT else value[:_TEXT_LIMIT] + "..."
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else _int_text(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(float(value))  # 'nan', not 'np.float64(nan)'
    if isinstance(value, (list, tuple, dict)):
        odd = [False]
        if _json_surely_longer(value, _TEXT_LIMIT, odd):
            return _bounded_repr(value, large=True)
        # The repr from its head, as _head makes it (its items may be long, a
        # 200 MB bytes, and its secret keys are ***): a dict or list subclass
        # too (an OrderedDict's own repr showed its password); a tuple
        # subclass (a namedtuple) keeps its own.
        headed = isinstance(value, (list, dict)) or type(value) is tuple
        try:
            text = json.dumps(_for_json(value) if odd[0] else value, allow_nan=False, default=_json_default)
        except (TypeError, ValueError, RecursionError):  # RecursionError: nested past Python's recursion limit
            return _bounded_repr(value, large=headed)
        if len(text) <= _TEXT_LIMIT and not _nested_deeper(value, text):
            return _redacted(json.loads(text))
        return _bounded_repr(value, large=headed)
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)  # a str (bytes the store refused: the execution was lost)
    return _bounded_repr(value)


def _nested_deeper(value: Any, text: str) -> bool:
    """Whether *value* (a list, tuple or dict, *text* its JSON) has
    containers nested more than ``_MAX_NESTING`` deep. MLMD refuses a struct
    nested past protobuf's 100 levels (2 a list, 3 a dict): the whole
    execution was refused with it. Walked only when its JSON has the brackets
    for it (JSON of at most _TEXT_LIMIT characters: the walk is bounded)."""
    if len(text) <= 2 * _MAX_NESTING or text.count("[") + text.count("{") <= _MAX_NESTING:
        return False
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > _MAX_NESTING:
            return True
        inner = dict.values(item) if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in inner if isinstance(child, (list, tuple, dict, set, frozenset)))
    return False


def _as_text(value: Any) -> Any:
    """A date, time or datetime as its ISO 8601 text, a Decimal as its exact
    text, an Enum member as ``Color.RED``; None for any other value. Each was
    kept as its repr ('datetime.date(2024, 1, 2)', "Decimal('0.1')").

    An IntEnum or IntFlag member is its int, a ``float, Enum`` member its
    float, a StrEnum (or ``str, Enum``) member its str, as JSON writes them,
    as Python 3.11's ``str()`` shows an IntEnum and a StrEnum, and as they
    were stored before: a number stays a number a query compares."""
    try:
        if isinstance(value, enum.Enum):
            if isinstance(value, int):
                return int(value)
            if isinstance(value, float):
                return float(value)
            if isinstance(value, str):
                return str.__str__(value)
            return _member_text(value)  # Color.RED; Perm(0): a flag of no name
        if isinstance(value, (datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, decimal.Decimal):
            return str(value)
    except Exception:  # a subclass's broken isoformat: kept as its repr
        pass
    return None


def _in_order(items: Iterable[Any]) -> List[Any]:
    """A set's items sorted when they sort (numbers, strings, dates), else
    by their text (Enum members, ordered by name, not by a hash that changes
    between runs), the others first as the set gives them."""
    items = list(items)
    try:
        return sorted(items)
    except Exception:
        return sorted(items, key=lambda item: "" if (plain := _as_text(item)) is None else str(plain))


def _for_json(value: Any) -> Any:
    """*value* with the dates, Decimals and Enum members in it, at any depth
    and dict keys too, as their text (see _as_text), and its sets as lists
    in order (JSON wrote an IntEnum as its int, a StrEnum as its value, and
    refused the others), and a NamedTuple's secret fields as ``***``. Only
    for a value _json_surely_longer has walked whole: no cycle, and no more
    than _TEXT_LIMIT items."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if isinstance(value, dict):
        pairs = list(value.items())  # keys and values together, as JSON takes them (a subclass's __iter__ may differ)
        return dict(zip(_json_keys([key for key, _ in pairs]), [_for_json(item) for _, item in pairs]))
    if isinstance(value, tuple) and kind is not tuple and hasattr(value, "_fields"):
        # A NamedTuple is a list of its values, as JSON writes it, with ***
        # for a secret field's (the field names that say so are not kept).
        return [
            REDACTED if _hides(field, item) else _for_json(item) for field, item in zip(value._fields, value)
        ]
    if isinstance(value, (list, tuple)):
        return [_for_json(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return [_for_json(item) for item in _in_order(value)]
    return _or_itself(value)


def _json_keys(keys: List[Any]) -> List[Any]:
    """A dict's *keys* as its JSON writes them, each apart: a str as
    itself, a date, Decimal or Enum member as its text (_as_text), a number,
    bool or None as JSON's text of it, any other key itself (JSON refuses
    it: the parameter is its repr). A key whose text another key has
    already ({date(2024, 1, 1): 1, "2024-01-01": 2}, {1: "a", "1": "b"})
    is written as its repr (``datetime.date(2024, 1, 1)``), or, when that is
    one too, with its type (``int(1)``): one of the two values was lost."""
    kinds = set(map(type, keys))
    if _STR_TYPES.issuperset(kinds) or (str not in kinds and _SCALAR_TYPES.issuperset(kinds)):
        return keys  # all text, or all numbers (no two of them one text): JSON writes them apart
    taken = {key for key in keys if isinstance(key, str)}  # a str key is always its own text
    written = []
    for key in keys:
        if not isinstance(key, str):
            text = _or_itself(key)
            if text is None or isinstance(text, (bool, int, float)):
                if isinstance(text, float) and not math.isfinite(text):
                    written.append(key)  # NaN: JSON refuses it, as before (the parameter is its repr)
                    continue
                # as JSON writes them: true, null, 1, 0.5 (a numpy float64 too, not its repr np.float64(0.5))
                if text is None or isinstance(text, bool):
                    text = "null" if text is None else "true" if text else "false"
                else:
                    text = float.__repr__(text) if isinstance(text, float) else int.__repr__(text)
            if isinstance(text, str):
                if text in taken:
                    shown = _bounded_repr(key)
                    text = next((t for t in (shown, f"{type(key).__name__}({shown})") if t not in taken), None)
                    number = 2
                    while text is None or text in taken:  # two keys of one repr: two enums' Color.RED
                        text, number = f"{shown} #{number}", number + 1
                taken.add(text)
            key = text
        written.append(key)
    return written


def _or_itself(value: Any) -> Any:
    """What _as_text makes of *value*, or *value* itself."""
    plain = _as_text(value)
    return value if plain is None else plain


def _redacted(value: Any) -> Any:
    """*value* (a parameter's JSON, read back) with the values of its
    secret-named keys, at any depth, as ``***`` (``db={"host": ..,
    "password": ..}`` kept the password)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if _hides(key, item):
                value[key] = REDACTED
            else:
                _redacted(item)
    elif isinstance(value, list):
        for item in value:
            _redacted(item)
    return value


def _plain_number(value: Any) -> Any:
    """A numpy number (``np.int64(7)``, ``np.float32(0.5)``, ``np.True_``)
    as the int, float or bool it stands for (each was kept as its repr, the
    text ``'np.int64(7)'``); any other value as it is. Duck-typed: lineage
    never imports numpy. A Fraction or Decimal is kept as it is (no float
    says it exactly)."""
    kind = type(value)
    if kind in _SCALAR_TYPES or kind in _NOT_NUMBERS:
        return value
    try:
        if isinstance(value, numbers.Integral) and not isinstance(value, int):
            return operator.index(value)
        if isinstance(value, numbers.Real) and not isinstance(value, (float, numbers.Rational)):
            return float(value)
        if kind.__module__ == "numpy" and kind.__name__ in ("bool", "bool_"):
            return bool(value)
    except Exception:  # a broken __index__ or __float__: kept as its repr
        pass
    return value


def _json_default(value: Any) -> Any:
    """What ``json.dumps`` makes of a numpy number or a path inside a list or
    dict parameter (the whole parameter was kept as its repr)."""
    if isinstance(value, os.PathLike):
        return os.fsdecode(value)
    number = _plain_number(value)
    if number is value:
        raise TypeError(f"{type(value).__qualname__} is not JSON serializable")
    return number


def _json_surely_longer(value: Any, limit: int, odd: Optional[List[bool]] = None) -> bool:
    """Whether the JSON of *value* (were it JSON-able) is surely over *limit*
    characters, judged from no more than about *limit* of its items; if not,
    ``odd[0]`` is set when it holds a set or a value _as_text writes (see
    _for_json).

    Every element, key and value counts one character and a string its
    length besides: a lower bound of the JSON's length (each has at least one
    character of its own there, a string its quotes and characters, a
    container its brackets). A cycle counts until the limit is passed.
    """
    left = limit - 1  # the value itself
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            left -= len(item)  # its one character was counted by its container
            if type(item) is not str and odd is not None and isinstance(item, enum.Enum):
                odd[0] = True  # a StrEnum
        elif isinstance(item, (list, tuple, set, frozenset)):
            left -= len(item)
            if left < 0:
                return True
            if odd is not None and (isinstance(item, (set, frozenset)) or (isinstance(item, tuple) and type(item) is not tuple)):
                odd[0] = True  # a set, or a NamedTuple (its secret fields: see _for_json)
            if not _SCALAR_TYPES.issuperset(map(type, item)):  # all numbers: nothing more to count
                stack.extend(item)
        elif isinstance(item, dict):
            left -= 2 * len(item)
            if left < 0:
                return True
            keys = dict.keys(item)
            kinds = set(map(type, keys))
            if _STR_TYPES.issuperset(kinds):
                left -= sum(map(len, keys))
            else:
                stack.extend(keys)
                if odd is not None and str in kinds:
                    odd[0] = True  # a number key JSON writes as text, which may be a str key's (see _json_keys)
            values = dict.values(item)
            if not _SCALAR_TYPES.issuperset(map(type, values)):
                stack.extend(values)
        elif odd is not None and type(item) not in _SCALAR_TYPES and isinstance(item, _TEXT_TYPES):
            odd[0] = True
        if left < 0:
            return True
    return False


class _Again:
    """Stands for a container inside itself: written as ``repr`` writes it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _head(value: Any, budget: List[int], inside: Tuple[int, ...] = ()) -> Any:
    """*value* with its lists, tuples and dicts cut to their first items,
    *budget* in all, taken in the order ``repr`` writes them: its repr begins
    as ``repr(value)`` does, for long enough to be cut to ``_REPR_LIMIT``.
    A dict or list subclass (OrderedDict, defaultdict, Counter) is cut as a
    plain dict or list: bounded, without its class's own repr."""
    if isinstance(value, dict):
        kind: type = dict
    elif isinstance(value, list):
        kind = list
    elif type(value) is tuple:
        kind = tuple
    elif type(value) in _CUT_ITEMS and len(value) > 2 * _REPR_LIMIT:
        if isinstance(value, (set, frozenset)):
            # Sorted (see _bounded_repr): one sort per set of up to _TEXT_LIMIT
            # items, not one per item of a list of them (its repr is cut past the first).
            budget[0] -= min(len(value), _TEXT_LIMIT)
        return _Again(_bounded_repr(value))  # a long str, bytes or set among the items: its head only, not all of it
    elif type(value) is int and value.bit_length() > 14_000:
        return _Again(_int_text(value))  # repr() refuses it: the whole value was '<dict object>'
    elif type(value) in _PLAIN_TYPES:
        return value
    elif isinstance(value, (set, frozenset)) and len(value) <= 2 * _REPR_LIMIT:
        return _head(_in_order(value), budget, inside)  # a list, as in a JSON-able one
    else:
        plain = _as_text(value) if isinstance(value, _TEXT_TYPES) else None  # a date: its text, as in a JSON-able one
        if plain is not None:
            return plain
        config = _config_repr(value, budget, inside)  # a config among the items: its secrets too, and bounded
        return value if config is None else _Again(config)
    if id(value) in inside:
        return _Again("{...}" if kind is dict else "[...]" if kind is list else "(...)")
    inside += (id(value),)
    if kind is dict:
        items: Dict[Any, Any] = {}
        for key, item in value.items():
            if budget[0] <= 0:
                break
            budget[0] -= 1
            secret = _hides(key, item)
            shown = key if type(key) in _PLAIN_TYPES else _or_itself(key)
            if shown is not key and shown != key and (shown in items or dict.__contains__(value, shown)):
                shown = key  # {date(2024, 1, 1): .., "2024-01-01": ..}: its repr, not one value lost (see _json_keys)
            items[shown] = REDACTED if secret else _head(item, budget, inside)  # as in a JSON-able one
        return items
    head = []
    for item in value:
        if budget[0] <= 0:
            break
        budget[0] -= 1
        head.append(_head(item, budget, inside))
    return kind(head)


#: Sized containers whose whole repr is made item by item (lists, tuples,
#: dicts, sets and bytes are handled apart).
_LONG_REPRS = frozenset(
    {collections.deque, array.array, type({}.keys()), type({}.values()), type({}.items())}
)
#: Items of a list, tuple or dict whose repr is made from their head (see _head).
_CUT_ITEMS = frozenset({str, bytes, bytearray, set, frozenset, *_LONG_REPRS})


def _bounded_repr(value: Any, large: bool = False) -> str:
    """``repr(value)`` cut to ``_REPR_LIMIT`` characters; *large*: a list,
    tuple or dict too large to repr whole, of which only the head is made."""
    enough = 2 * _REPR_LIMIT  # items (or bytes) whose repr is surely longer than the cut
    try:
        if large:
            text = repr(_head(value, [enough]))
        elif type(value) in (str, bytes, bytearray) and len(value) > enough:
            text = repr(value[:enough])  # an image's bytes: not a 400 MB repr
        elif type(value) in (set, frozenset) and len(value) <= _TEXT_LIMIT:
            # In order, a list, as a set whose JSON is short enough is (and
            # as its head in a repr): a set of 300 long names was its repr in
            # the order its hashes give, which changes from run to run. Up
            # to _TEXT_LIMIT items: as many as a set's JSON is sorted for.
            text = repr(_head(_in_order(value), [enough]))
        elif type(value) in (set, frozenset) and len(value) > enough:
            # Too large to sort on every call: its head as the set gives it.
            text = repr(type(value)(itertools.islice(value, enough)))
        elif type(value) in _LONG_REPRS and len(value) > enough:
            # a deque, an array, a dict view of millions of items: the head's
            # repr, not a repr of all of it cut afterwards (a second per call)
            text = f"{type(value).__name__}({list(itertools.islice(value, enough))!r}, ...)"
        else:
            config = _config_repr(value, [enough])
            text = repr(value) if config is None else config
    except Exception:  # a broken __repr__ must not break the call
        text = f"<{type(value).__qualname__} object>"
    if " at 0x" in text:
        # <Lib object at 0x7f...>, a lock in a config, such objects in a list:
        # the address made the same argument another parameter on every run.
        # A str's or bytes' literal among them is matched whole and kept.
        text = _ADDRESS.sub(r"\1", text)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


#: An object's address in a repr of Python's form, `` at 0x7f...`` before
#: the ``>`` that ends it (``;`` in a weakref's), wherever the ``<...>`` is
#: (<generator object <genexpr> at 0x7f...>, <f.<locals>.Lib object at
#: 0x7f...>), or a quoted literal (group 1), a str's text, kept as written:
#: a log line '<conn at 0xdeadbeef> opened' is no address.
_ADDRESS = re.compile(r"""('(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")| at 0x[0-9a-fA-F]+(?=[>;])""")


def _config_repr(value: Any, budget: List[int], inside: Tuple[int, ...] = ()) -> Optional[str]:
    """The repr of a dataclass, attrs object or NamedTuple whose ``__repr__``
    is the one they generate, made as they make it, field by field: a
    secret-named field's value as ``'***'`` (a config's ``password='hunter2'``
    was kept, a NamedTuple's too), and each field's repr from its head (a
    config holding a 5M-element list was repr-ed whole, 0.6 s a call). None
    for any other object.

    Also a function, as ``<function module.qualname>``: its repr's address
    (``<function relu at 0x7f...>``) made the same argument another
    parameter on every run; so a bound method, as ``<bound method
    module.Class.name>`` (not its instance's address; a classmethod's
    with its class, as Python writes it), a built-in one as
    ``<built-in method list.append>``, and a function a ``@track`` (or
    another wrapt decorator) wraps, bound or not, as the function or
    method it wraps; a ``functools.partial``, an
    ``argparse.Namespace`` and a ``SimpleNamespace`` (a subclass of either
    too, unless it writes its own repr), their secret-named keywords and
    attributes ``'***'`` too (``partial(connect, password='hunter2')`` kept
    it, and ``train(args)`` its ``args.api_key``); and a plain object, as a
    namespace (see _plain_repr)."""
    kind = type(value)
    star: List[str] = []
    held: Optional[Dict[str, Any]] = None  # a namespace's attributes, as they were when looked at
    if kind is types.FunctionType:
        return f"<function {getattr(value, '__module__', None)}.{value.__qualname__}>"
    if kind is types.MethodType:
        # <bound method Model.forward of <Model object at 0x7f...>>: the instance's address too
        func = value.__func__
        qualname = getattr(func, "__qualname__", None)
        if not isinstance(qualname, str):
            return None
        owner = value.__self__
        if isinstance(owner, type):
            # A classmethod, bound to the class it was called on, as Python
            # writes it (no address in it): AutoModelForCausalLM.from_pretrained
            # and AutoModelForSeq2SeqLM.from_pretrained are one function of
            # their base class, two arguments.
            of = f"{owner.__module__}.{owner.__qualname__}"
            return f"<bound method {getattr(func, '__module__', None)}.{qualname} of <class {of!r}>>"
        return f"<bound method {getattr(func, '__module__', None)}.{qualname}>"
    if kind is types.BuiltinMethodType and not isinstance(value.__self__, (types.ModuleType, type(None))):
        # [].append, torch.relu: <built-in method relu of type object at 0x7f...>
        return f"<built-in method {value.__qualname__}>"
    if isinstance(value, (wrapt.FunctionWrapper, wrapt.BoundFunctionWrapper)):
        # A @track-ed function (or another wrapt decorator's), bound or not,
        # as the function it wraps: <_TrackedFunction at 0x7f... for function at 0x7f...>
        return _config_repr(value.__wrapped__, budget, inside)
    if kind is functools.partial:
        if id(value) in inside:
            return "..."
        inside += (id(value),)
        args = [repr(_head(item, budget, inside)) for item in (value.func, *value.args)]
        keywords = [
            f"{key}={repr(REDACTED) if _hides(key, item) else repr(_head(item, budget, inside))}"
            for key, item in value.keywords.items()
        ]
        return f"functools.partial({', '.join(args + keywords)})"
    source = getattr(getattr(kind.__repr__, "__code__", None), "co_filename", "")
    if source.startswith("<attrs generated repr") and attrs.has(kind):
        fields = [(f.name, f.repr) for f in attrs.fields(kind) if f.repr is not False]
        name = kind.__qualname__.rsplit(">.", 1)[-1]
    elif source == dataclasses.__file__ and dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = [(f.name, True) for f in dataclasses.fields(value) if f.repr]
        name = kind.__qualname__
    elif source == collections.__file__ and isinstance(value, tuple) and hasattr(kind, "_fields"):
        # A NamedTuple, as its generated repr writes it (Creds(user='me', password='***')).
        fields = [(field, True) for field in kind._fields]
        name = kind.__name__
    elif isinstance(value, types.SimpleNamespace) and kind.__repr__ is types.SimpleNamespace.__repr__:
        # A subclass too, as its repr names it (Opts(api_key='***')): only the exact type was redacted.
        held = dict(vars(value))  # copied in one call: another thread may change them as they are written
        fields = [(field, True) for field in held]
        name = "namespace" if kind is types.SimpleNamespace else kind.__name__
    elif _argparse_repr(kind):
        # train(args): Namespace(lr=0.1, api_key='***'), as argparse writes it,
        # the attributes no keyword can name after them (**{'a-b': 1}).
        held = dict(vars(value))  # as above
        fields = [(field, True) for field in held if field.isidentifier()]
        star = [field for field in held if not field.isidentifier()]
        name = kind.__name__
    elif kind.__repr__ is object.__repr__:
        return _plain_repr(value, budget, inside)
    else:
        return None
    if id(value) in inside:
        return "..."
    inside += (id(value),)
    parts = []
    length = len(name)
    for field, shown in fields:
        if length > _REPR_LIMIT:
            parts.append("...")  # the rest is cut off anyway
            break
        item = held[field] if held is not None else getattr(value, field)
        parts.append(f"{field}={_field_repr(field, item, shown, budget, inside)}")
        length += len(parts[-1]) + 2
    if star and length <= _REPR_LIMIT:
        # As the fields above, up to the cut: all of them were made (a
        # namespace of 100,000 such attributes, half a second a call).
        pairs = []
        for field in star:
            if length > _REPR_LIMIT:
                pairs.append("...")
                break
            item = held[field] if held is not None else getattr(value, field)
            pairs.append(f"{field!r}: {_field_repr(field, item, True, budget, inside)}")
            length += len(pairs[-1]) + 2
        parts.append(f"**{{{', '.join(pairs)}}}")
    return f"{name}({', '.join(parts)})"


#: How deep plain objects inside one another are written (node.next.next...): deeper, as ``Node(...)``.
_MAX_PLAIN_NESTING = 64


def _plain_repr(value: Any, budget: List[int], inside: Tuple[int, ...]) -> str:
    """The repr of a plain object (see _plain_attributes) as a namespace's
    is, its class and its attributes, a secret-named one's value ``'***'``
    (``Config(lr=0.1, api_key='***')``), each from its head (see _head), cut
    at the repr's length: it was ``<__main__.Config object at 0x7f...>``,
    whose address made the same argument another parameter on every run.
    One of no ``__dict__`` is its class's name, without the address."""
    kind = type(value)
    attributes = _plain_attributes(value)
    if attributes is None:  # as Python writes it (<object object at 0x7f...>), without the address
        module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
        return f"<{module}{kind.__qualname__} object>"
    name = kind.__qualname__.rsplit(">.", 1)[-1]  # a class made in a function: Config, not f.<locals>.Config
    if id(value) in inside:
        return "..."
    if len(inside) >= _MAX_PLAIN_NESTING:
        return f"{name}(...)"
    inside += (id(value),)
    parts = []
    length = len(name)
    # Its __dict__ copied at once (one C call: no other thread runs in it;
    # an iterator made first, as islice's, is not), then written: walked as
    # the reprs below were made, an attribute another thread added or
    # removed meanwhile (a trainer's progress thread) stopped it
    # ('dictionary changed size during iteration'), and the parameter was
    # '<Trainer object>'. find_artifacts copied it so already.
    for field, item in list(attributes.items()):  # read from __dict__: no property is run
        if length > _REPR_LIMIT:
            parts.append("...")  # the rest is cut off anyway: an object of a million attributes costs no more
            break
        shown = field if isinstance(field, str) and field.isidentifier() else repr(field)
        parts.append(f"{shown}={_field_repr(field, item, True, budget, inside)}")
        length += len(parts[-1]) + 2
    return f"{name}({', '.join(parts)})"


def _field_repr(field: str, item: Any, shown: Any, budget: List[int], inside: Tuple[int, ...]) -> str:
    """The repr of a config's field, as _config_repr writes it: ``'***'``
    for a secret, else its own (a config's, bounded: see _head)."""
    if _hides(field, item):
        return repr(REDACTED)
    if callable(shown):  # attrs' field(repr=function)
        return shown(item)
    config = _config_repr(item, budget, inside)
    return repr(_head(item, budget, inside)) if config is None else config


def _argparse_repr(kind: type) -> bool:
    """Whether *kind* is an ``argparse.Namespace`` (or a subclass) whose
    repr is argparse's, made of the attributes (see _namespace_attributes
    for why argparse is not imported)."""
    argparse = sys.modules.get("argparse")
    if argparse is None or not issubclass(kind, argparse.Namespace):
        return False
    plain = argparse.Namespace
    return all(getattr(kind, method) is getattr(plain, method) for method in ("__repr__", "_get_kwargs", "_get_args"))


# --------------------------------------------------------------------------- binding


_SELF_NAMES = ("self", "cls")


def _type_hints(func: Callable[..., Any]) -> Dict[str, Any]:
    """Resolved annotations; string annotations that name local imports are
    evaluated one by one against the function's globals, its closure, and
    the usual typing and pathlib names."""
    try:
        return typing.get_type_hints(func, include_extras=True)
    except Exception:
        pass
    import pathlib

    from lineage import records

    namespace: Dict[str, Any] = {name: getattr(typing, name) for name in typing.__all__ if hasattr(typing, name)}
    namespace.update(Path=pathlib.Path, PurePath=pathlib.PurePath, PathLike=os.PathLike, os=os, pathlib=pathlib)
    namespace.update({cls.__name__: cls for cls in (records.Artifact, records.DataSet, records.Model, records.Metrics)})
    namespace.update(getattr(func, "__globals__", {}))
    code = getattr(func, "__code__", None)
    closure = getattr(func, "__closure__", None) or ()
    if code is not None:
        for name, cell in zip(code.co_freevars, closure):
            try:
                namespace[name] = cell.cell_contents
            except ValueError:
                pass
    hints: Dict[str, Any] = {}
    for name, annotation in getattr(func, "__annotations__", {}).items():
        if isinstance(annotation, str):
            try:
                annotation = eval(annotation, namespace)  # noqa: S307 - the function's own annotation
            except Exception:
                continue
        hints[name] = annotation
    return hints


class Binder:
    """Maps one call's arguments to parameter names, fast.

    Built once per decorated function from its signature; per call it
    avoids ``inspect.Signature.bind``.
    """

    def __init__(self, func: Callable[..., Any]) -> None:
        self.signature = inspect.signature(func)
        hints = _type_hints(func)
        params = list(self.signature.parameters.values())
        self.params = params
        self.annotations = {p.name: hints.get(p.name, p.annotation) for p in params}
        self.return_annotation = hints.get("return", self.signature.return_annotation)
        self.positional = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        self.var_positional = next((p.name for p in params if p.kind is p.VAR_POSITIONAL), None)
        self.var_keyword = next((p.name for p in params if p.kind is p.VAR_KEYWORD), None)
        # Names a keyword argument cannot bind to: it goes to **kwargs (or is an error).
        self.not_by_keyword = frozenset(p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL, p.VAR_KEYWORD))
        self.defaults = {p.name: p.default for p in params if p.default is not p.empty and p.kind is not p.VAR_KEYWORD}
        self.input_classes = {name: record_class_of(a) for name, a in self.annotations.items()}
        items = {name: item_class_of(a) for name, a in self.annotations.items()}
        for p in params:
            if p.kind is p.VAR_POSITIONAL:  # *paths: DataSet annotates each item
                items[p.name] = self.input_classes.pop(p.name, None) or items.get(p.name)
        #: Only the parameters with an item class (usually none: nothing to look up per call).
        self.input_items = {name: cls for name, cls in items.items() if cls is not None}
        #: Only the parameters annotated with a fixed-length tuple naming a record class
        #: (``pair: Tuple[DataSet, Model]``), read as a return value of that annotation is.
        self.input_elements: Dict[str, List[Optional[type]]] = {}
        for p in params:
            elements = element_classes(self.annotations[p.name]) if p.kind is not p.VAR_POSITIONAL else None
            if elements is not None and any(elements):
                self.input_elements[p.name] = elements
        #: The parameters whose annotation names record classes (their text, and the
        #: classes), to say so when a value given for one makes no record.
        self.record_annotations: Dict[str, Tuple[str, List[type], bool]] = {}
        for p in params:
            annotation = self.annotations[p.name]
            if annotation is p.empty or isinstance(annotation, str):
                continue
            if not _only_records(annotation):  # data: DataSet | str: the author allows a str
                continue
            record_classes = record_classes_in(annotation)
            many = not record_classes or p.kind is p.VAR_POSITIONAL  # a collection of records (List[DataSet], *paths: DataSet)
            item = item_class_of(annotation) if p.kind is not p.VAR_POSITIONAL else None
            for cls in (item, *self.input_elements.get(p.name, ())):
                if cls is not None and cls not in record_classes:
                    record_classes.append(cls)
            if record_classes:
                text = _annotation_text(annotation)
                text = f"tuple[{text}, ...]" if p.kind is p.VAR_POSITIONAL else text
                self.record_annotations[p.name] = (text, record_classes, many)

    def bind(self, args: Sequence[Any], kwargs: Mapping[str, Any], bound_method: bool) -> Dict[str, Any]:
        """Argument values by parameter name, defaults applied.

        *bound_method*: the call came through an instance or class (wrapt's
        ``instance`` is set), so the first parameter is not in *args*.

        Keyword arguments that land in ``**kwargs`` keep their own names,
        except one named like a parameter that already has a value (a
        positional-only parameter or ``*args``: ``f(1, a=6)`` for
        ``def f(a, /, **kw)``), which is ``"kw.a"`` so that neither value
        hides the other.
        """
        positional = self.positional[1:] if bound_method and self.positional else self.positional
        values: Dict[str, Any] = {}
        extra_args = args[len(positional) :]
        for name, value in zip(positional, args):
            values[name] = value
        if extra_args:
            if self.var_positional is None:
                raise TypeError("too many positional arguments")
            values[self.var_positional] = tuple(extra_args)
        extra_kwargs = {}
        for key, value in kwargs.items():
            if key in self.not_by_keyword:  # Python's rule: such a key goes to **kwargs
                if self.var_keyword is None:
                    raise TypeError(f"{key!r} cannot be passed as a keyword argument")
                extra_kwargs[key] = value
            elif key in values:
                raise TypeError(f"multiple values for argument {key!r}")
            elif key in self.annotations:
                values[key] = value
            elif self.var_keyword is not None:
                extra_kwargs[key] = value
            else:
                raise TypeError(f"unexpected keyword argument {key!r}")
        for name, default in self.defaults.items():
            if name not in values:
                values[name] = default
        if extra_kwargs:
            taken = set(values)
            if bound_method and self.positional:
                taken.add(self.positional[0])  # bound to the instance, not in *args
            for key, value in extra_kwargs.items():
                name = key
                while name in taken or (name != key and name in extra_kwargs):
                    name = f"{self.var_keyword}.{name}"
                taken.add(name)
                values[name] = value
        if self.positional and (bound_method or self.positional[0] in _SELF_NAMES):
            # The instance (or class) is not an argument; a parameter that
            # merely has the name (def select(data, cls=3)), or a **kwargs
            # item, is one (they were dropped).
            values.pop(self.positional[0], None)
        return values


@attrs.define
class Mapped:
    """What one call's arguments map to; *failed*: the arguments that could
    not be mapped (each kept as a parameter, its bounded repr), with why."""

    inputs: List[Found] = attrs.Factory(list)
    params: Dict[str, Any] = attrs.Factory(dict)
    failed: List[Tuple[str, Exception]] = attrs.Factory(list)


def map_arguments(
    binder: Binder,
    values: Mapping[str, Any],
    *,
    inputs: Optional[Any] = None,
    exclude: Iterable[str] = (),
    fast: bool = True,
) -> Mapped:
    """Split bound arguments into input artifacts and parameters.

    An argument named in *inputs* (or an item of a ``**kwargs`` named there)
    is an input when it holds records, or is a path or URI (``str`` or
    ``os.PathLike``): then a record of the class *inputs* gives for it, else
    of its annotation, else a ``DataSet``. Anything else it holds is a
    parameter, as if it were not named.

    *fast*: False maps every argument the general way (the common ones
    give the same either way: tests/test_mapping.py compares them).
    """
    mapped = Mapped()
    excluded = set(exclude)
    explicit: Optional[Dict[str, Optional[type]]] = None
    if inputs is not None:
        if isinstance(inputs, Mapping):
            explicit = dict(inputs)
        else:
            explicit = {name: None for name in inputs}
    declared, var_keyword = binder.annotations, binder.var_keyword
    classes, item_classes = binder.input_classes, binder.input_items
    for name, value in values.items():
        # An item of **kwargs answers to its own name and to the **kwargs
        # parameter's (exclude=["kw"], inputs=["kw"], **kw: DataSet).
        owner = name if var_keyword is None or name in declared else var_keyword
        if name in excluded or owner in excluded:
            continue
        try:
            if explicit is None and fast:
                # The common arguments, as the general path below maps them
                # without its lookups: a record is itself the input (found
                # first, as find_artifacts finds it), and a number, a bool
                # or None (a str too, where no record class makes a path
                # one) holds none, and is a parameter unless a converter
                # may take it or its annotation names records (said below).
                if isinstance(value, Artifact):
                    mapped.inputs.append((value, (name,)))
                    continue
                kind = type(value)
                if (
                    kind in _NO_RECORDS
                    and not _converters
                    and (kind is not str or not (classes.get(name) or classes.get(owner)))
                    and (name if name in declared else owner) not in binder.record_annotations
                ):
                    mapped.params[name] = param_value(name, value)
                    continue
            key = name if name in declared else owner  # the parameter whose annotation applies
            cls = classes.get(name) or classes.get(owner)
            items = item_classes.get(key) if item_classes else None
            elements = binder.input_elements.get(key) if binder.input_elements else None
            # With inputs=[...], only the named arguments are looked into.
            named = explicit is not None and (name in explicit or owner in explicit)
            if explicit is None or named:
                given = (explicit.get(name) or explicit.get(owner)) if explicit is not None and named else None
                cls = given or cls
                budget = [_MAX_ITEMS]
                missed: List[Tuple[Any, type, Tuple[PathStep, ...]]] = []
                found: Optional[List[Found]]
                if elements is not None and given is None and isinstance(value, (list, tuple)) and len(value) == len(elements):
                    found, missed = _by_position(value, (name,), elements, budget)
                else:
                    found = find_artifacts(value, (name,), cls, budget=budget, items=items)
                if not found and named and cls is None:
                    # named, with no record class anywhere: a path or URI is a DataSet
                    record = path_to_record(value, DataSet)
                    if record is not None:
                        found = [(record, (name,))]
                if found:
                    for item, item_cls, item_path in missed:  # pair=(DataSet(...), 0.5) for Tuple[DataSet, Model]
                        _input_not_mapped(name, item, _annotation_text(item_cls), [item_cls], path=item_path)
                    rest = _without_records(value, found)
                    param = None
                    if rest:  # cfg={"data": DataSet(...), "lr": 0.1}: lr is a parameter too
                        param = param_value(name, rest)
                    elif budget[0] < 0:  # not every item was looked into: keep them too (a bounded repr)
                        param = param_value(name, value)
                    mapped.inputs.extend(found)
                    if param is not None:
                        mapped.params[name] = param
                    continue
                # it holds no record (an int, a list of numbers...): a parameter
                said = binder.record_annotations.get(key) if given is None else None
                if said is not None:  # ... though its annotation says it is one: say so
                    _input_not_mapped(name, value, *said)
            mapped.params[name] = param_value(name, value)
        except Exception as exc:  # this argument only: the others are still mapped (all were lost)
            mapped.failed.append((name, exc))
            mapped.params[name] = REDACTED if _is_secret(name) else _bounded_repr(value)
    return mapped


def _step(key: Any) -> PathStep:
    """The event path step of a dict key: a str or an int as it is, any
    other key (a Path, None, a float, a tuple, a bool) as its text."""
    if isinstance(key, (str, int)) and not isinstance(key, bool):
        return key
    try:
        return str(key)
    except Exception:  # a broken __str__
        return f"<{type(key).__qualname__}>"


def _without_records(value: Any, found: List[Found]) -> Optional[Dict[str, Any]]:
    """The items of a dict, list or tuple argument, or the fields of an
    attrs, dataclass or NamedTuple config or the attributes of a namespace
    (see _namespace_attributes), that hold no record, if it has any (they
    are a parameter)."""
    if any(len(path) == 1 for _, path in found):  # the value itself became a record (a converter's)
        return None
    return _rest_of(value, [path[1:] for _, path in found])


def _rest_of(value: Any, paths: List[Tuple[PathStep, ...]]) -> Optional[Dict[str, Any]]:
    """What :func:`_without_records` keeps of *value*, whose records are at
    *paths* (relative to it, none empty). A dict or config inside it that
    holds records keeps its other items too: {"data": {"train": DataSet(...),
    "batch_size": 32}} lost batch_size. A list's or tuple's items are kept
    by their index as text ({"1": 3} of [DataSet(...), 3]), the step of
    their event path: [DataSet(...), 3] lost the 3.

    Any mapping, list or tuple find_artifacts looks into is kept so, a
    subclass too (an OrderedDict, a defaultdict, a list subclass): theirs
    were left out whole, all but their records lost."""
    kind = type(value)
    named = isinstance(value, tuple) and hasattr(value, "_fields")
    mapping = isinstance(value, collections.abc.Mapping)
    by_index = not named and isinstance(value, (list, tuple))
    pairs: Iterable[Tuple[Any, Any]]
    steps: Iterable[PathStep]
    if mapping:
        pairs = list(value.items())
        steps = [_step(key) for key, _ in pairs]
    elif by_index:
        if len(paths) == len(value) and max(map(len, paths), default=1) == 1:
            return None  # every item is a record (the common case): nothing to build
        pairs = enumerate(value)  # lazily: a list of millions is left after the first _TEXT_LIMIT kept
        steps = itertools.count()
    elif named:  # a NamedTuple: by field, as find_artifacts steps
        pairs = list(zip(value._fields, value))
        steps = value._fields
    elif isinstance(value, (Artifact, str, os.PathLike)):  # a record, or a path made one
        return None
    elif attrs.has(kind):
        pairs = [(field.name, getattr(value, field.name)) for field in attrs.fields(kind)]
        steps = [key for key, _ in pairs]
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        pairs = [(field.name, getattr(value, field.name)) for field in dataclasses.fields(value)]
        steps = [key for key, _ in pairs]
    elif (attributes := _namespace_attributes(value)) is not None:  # an argparse.Namespace: by attribute, as a config
        pairs = list(attributes.items())
        steps = [_step(key) for key, _ in pairs]
    else:
        return None
    holders: Dict[PathStep, List[Tuple[PathStep, ...]]] = {}  # the paths inside each item holding records
    for path in paths:
        inside = holders.setdefault(path[0], [])
        if len(path) > 1:
            inside.append(path[1:])
    shared = {step for step, n in collections.Counter(steps).items() if n > 1} if mapping else ()
    rest: Dict[Any, Any] = {}
    for (key, item), step in zip(pairs, steps):
        if len(rest) > _TEXT_LIMIT:
            # The parameter is surely past _TEXT_LIMIT: its head is what is
            # kept (see param_value), so the rest of a list of millions is not made.
            break
        # Two keys with one path step ({Path("a"): record, "a": 0.5}): the
        # one whose value holds the records is left out, not both.
        if step in holders and (step not in shared or find_artifacts(item, (), budget=[_MAX_ITEMS])):
            inner = holders[step]
            kept = _rest_of(item, inner) if inner else None  # none: the item is the record
            if kept:
                rest[str(key) if by_index else key] = kept
            continue
        if by_index:
            rest[str(key)] = item
            continue
        # Secrets among a config's values, as among the arguments.
        rest[key] = REDACTED if _hides(key, item) else item
    return rest or None


def check_names(where: str, names: Any, binder: Binder) -> None:
    """Raise unless every name in *names* is a parameter of the function."""
    if names is None:
        return
    if isinstance(names, str):
        raise InvalidTypeError(f"{where} must be a list of parameter names, not a string: {names!r}")
    known = {p.name for p in binder.params}
    for name in names:
        if name not in known:
            raise InvalidValueError(f"{where} names {name!r}, which is not a parameter of the function (has {sorted(known)})")
