"""Arguments, return values and annotations -> artifacts and parameters.

The rules, in order, for one bound argument (or one part of a return value):

1. a lineage record (``DataSet``, ``Model``, ...) is an artifact;
2. a list/tuple/dict (return values also: NamedTuple, attrs, dataclass) is
   looked into, one level per container, and its records are artifacts with
   the index, key or field name appended to the event path;
3. a ``str`` or ``os.PathLike`` whose annotation names a record class
   (``path: DataSet``, ``-> Annotated[Path, Model]``) becomes that record,
   ``uri`` an absolute ``file://`` URI (or the string itself if it already is
   a URI) and ``name`` the file name;
4. an object of a type given to :func:`register_converter` is converted by
   the registered function (so lineage never imports pandas or sklearn);
5. anything else is a parameter: typed when it is a bool, int, float or str,
   a struct when it is JSON-able, else a bounded ``repr``. Names that look
   like secrets are recorded as ``***``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import inspect
import json
import math
import os
import re
import sys
import threading
import typing
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

import attrs

from lineage._fork import renew_after_fork
from lineage.errors import InvalidTypeError, InvalidValueError, describe
from lineage.records import Artifact

__all__ = ["Binder", "Mapped", "register_converter", "unregister_converter"]

PathStep = Union[str, int]
Found = Tuple[Artifact, Tuple[PathStep, ...]]

REDACTED = "***"
# Secret names are judged word by word (snake_case, kebab-case, camelCase,
# digits), so ``max_tokens``, ``tokenizer``, ``num_passes`` or ``author`` are
# not secrets but ``db_password``, ``githubToken`` and ``apiKey`` are.
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_SECRET_WORDS = frozenset(
    {
        *("password", "passwd", "passphrase", "pass", "pwd", "secret", "secrets", "token"),
        *("credential", "credentials", "auth", "authorization", "cookie", "cookies", "bearer", "apikey"),
    }
)
_SECRET_PAIRS = frozenset({("api", "key"), ("private", "key"), ("session", "key"), ("access", "key")})
_SECRET_SUFFIXES = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "apikey",
    "credential",
    "credentials",
    "secretkey",
    "privatekey",
    "sessionkey",
    "accesstoken",
    "authtoken",
    "apitoken",
)
# ``pad_token="[PAD]"``, ``eos_token``, ``max_token``: NLP vocabulary, not secrets.
_NOT_SECRET_BEFORE_TOKEN = frozenset(
    {"pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start", "end", "stop", "max", "min", "num", "n"}
)
_REPR_LIMIT = 256
_MAX_DEPTH = 3

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


def _is_union_type(origin: Any) -> bool:
    import types

    return origin is types.UnionType


def element_classes(annotation: Any) -> Optional[List[Optional[type]]]:
    """For ``Tuple[Model, Metrics]``: the record class of each element."""
    origin = typing.get_origin(annotation)
    if origin in (tuple, typing.Tuple):
        args = typing.get_args(annotation)
        if args and args[-1] is not Ellipsis:
            return [record_class_of(a) for a in args]
    return None


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
        uri = "file://" + absolute
        name = os.path.basename(absolute.rstrip(os.sep)) or absolute
    return cls(uri=uri, name=name)


# --------------------------------------------------------------------------- finding artifacts


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


def find_artifacts(value: Any, path: Tuple[PathStep, ...], cls: Optional[type] = None, depth: int = 0) -> Optional[List[Found]]:
    """The artifacts in *value*, with their event paths; None if it holds none."""
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
    if depth >= _MAX_DEPTH or isinstance(value, (str, bytes, bytearray, int, float, bool)) or value is None:
        return None
    found: List[Found] = []
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # NamedTuple
        for field, item in zip(value._fields, value):
            found.extend(find_artifacts(item, path + (field,), None, depth + 1) or ())
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            found.extend(find_artifacts(item, path + (index,), None, depth + 1) or ())
    elif isinstance(value, collections.abc.Mapping):
        for key, item in value.items():
            if isinstance(key, (str, int)) and not isinstance(key, bool):
                found.extend(find_artifacts(item, path + (key,), None, depth + 1) or ())
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            found.extend(find_artifacts(getattr(value, field.name), path + (field.name,), None, depth + 1) or ())
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            found.extend(find_artifacts(getattr(value, field.name), path + (field.name,), None, depth + 1) or ())
    else:
        return None
    return found or None


_plans: Dict[Any, Tuple[Optional[type], Optional[List[Optional[type]]]]] = {}


def _annotation_plan(annotation: Any) -> Tuple[Optional[type], Optional[List[Optional[type]]]]:
    """(record class, element classes) of a return annotation, worked out once."""
    if annotation is inspect.Signature.empty:
        return None, None
    try:
        return _plans[annotation]
    except KeyError:
        pass
    except TypeError:  # an unhashable annotation (Annotated with a dict, ...)
        return record_class_of(annotation), element_classes(annotation)
    plan = (record_class_of(annotation), element_classes(annotation))
    if len(_plans) >= 4096:
        _plans.clear()
    _plans[annotation] = plan
    return plan


def outputs_of(
    value: Any, annotation: Any = inspect.Signature.empty, explicit: Any = None, root: Tuple[PathStep, ...] = ("return",)
) -> List[Found]:
    """The artifacts a return (or yielded) value carries."""
    path: Tuple[PathStep, ...] = tuple(root)
    if explicit is not None:
        return _explicit_outputs(value, explicit, path)
    cls, elements = _annotation_plan(annotation)
    if elements is not None and isinstance(value, (list, tuple)) and len(elements) == len(value):
        found: List[Found] = []
        for index, (item, item_cls) in enumerate(zip(value, elements)):
            found.extend(find_artifacts(item, path + (index,), item_cls, 1) or ())
        return found
    return find_artifacts(value, path, cls) or []


def _explicit_outputs(value: Any, spec: Any, path: Tuple[PathStep, ...]) -> List[Found]:
    if isinstance(spec, type):
        return find_artifacts(value, path, spec) or []
    if isinstance(spec, (list, tuple)):
        if not isinstance(value, (list, tuple)):
            raise InvalidTypeError(f"outputs={spec!r} expects the function to return a tuple or list, got {describe(value)}")
        found: List[Found] = []
        for index, (item, cls) in enumerate(zip(value, spec)):
            if cls is not None:
                found.extend(find_artifacts(item, path + (index,), cls, 1) or ())
        return found
    if isinstance(spec, Mapping):
        found = []
        for key, cls in spec.items():
            if isinstance(value, Mapping):
                item = value.get(key)
            else:
                item = getattr(value, key, None)
            if item is not None:
                found.extend(find_artifacts(item, path + (key,), cls, 1) or ())
        return found
    raise InvalidTypeError(f"outputs must be a record class, a list of them or a dict of them, got {describe(spec)}")


# --------------------------------------------------------------------------- parameters


_secret_names: Dict[str, bool] = {}


def _names_a_secret(name: str) -> bool:
    words = [word.lower() for word in _WORD.findall(name)]
    previous = ""
    for word in words:
        if word in _SECRET_WORDS:
            if not (word == "token" and previous in _NOT_SECRET_BEFORE_TOKEN):
                return True
        elif (previous, word) in _SECRET_PAIRS or word.endswith(_SECRET_SUFFIXES):
            return True
        previous = word
    return False


def _is_secret(name: str) -> bool:
    """Whether a parameter named *name* is recorded as ``***``."""
    secret = _secret_names.get(name)
    if secret is None:
        secret = _names_a_secret(name)
        if len(_secret_names) >= 4096:
            _secret_names.clear()
        _secret_names[name] = secret
    return secret


def param_value(name: str, value: Any) -> Any:
    """How a parameter is recorded: typed scalar, JSON-able container, or repr."""
    if _is_secret(name):
        return REDACTED
    if value is None or isinstance(value, (bool, str)):
        return value if not isinstance(value, str) or len(value) <= 4096 else value[:4096] + "..."
    if isinstance(value, int):
        return value if -(2**63) <= value < 2**63 else repr(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, (list, tuple, dict)):
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            return _bounded_repr(value)
        if len(text) <= 4096:
            return json.loads(text)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return _bounded_repr(value)


def _bounded_repr(value: Any) -> str:
    try:
        text = repr(value)
    except Exception:  # a broken __repr__ must not break the call
        text = f"<{type(value).__qualname__} object>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


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
        if bound_method and self.positional:
            values.pop(self.positional[0], None)
        for name in _SELF_NAMES:
            values.pop(name, None)
        return values


@attrs.define
class Mapped:
    """What one call's arguments map to."""

    inputs: List[Found] = attrs.Factory(list)
    params: Dict[str, Any] = attrs.Factory(dict)


def map_arguments(
    binder: Binder,
    values: Mapping[str, Any],
    *,
    inputs: Optional[Any] = None,
    exclude: Iterable[str] = (),
) -> Mapped:
    """Split bound arguments into input artifacts and parameters."""
    mapped = Mapped()
    excluded = set(exclude)
    explicit: Optional[Dict[str, Optional[type]]] = None
    if inputs is not None:
        if isinstance(inputs, Mapping):
            explicit = dict(inputs)
        else:
            explicit = {name: None for name in inputs}
    declared, var_keyword, classes = binder.annotations, binder.var_keyword, binder.input_classes
    for name, value in values.items():
        # An item of **kwargs answers to its own name and to the **kwargs
        # parameter's (exclude=["kw"], inputs=["kw"], **kw: DataSet).
        owner = name if var_keyword is None or name in declared else var_keyword
        if name in excluded or owner in excluded:
            continue
        cls = classes.get(name) or classes.get(owner)
        if explicit is not None:
            if name in explicit or owner in explicit:
                cls = explicit.get(name) or explicit.get(owner) or cls
                found = find_artifacts(value, (name,), cls)
                if found or owner == name:
                    mapped.inputs.extend(found or ())
                    continue
                # an item of **kw that holds no record stays a parameter
        else:
            found = find_artifacts(value, (name,), cls)
            if found:
                mapped.inputs.extend(found)
                continue
        mapped.params[name] = param_value(name, value)
    return mapped


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
