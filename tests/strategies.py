"""Hypothesis strategies for lineage's records.

Strings lean on what breaks stores: backslashes (MLMD's PostgreSQL driver),
NUL (every backend truncates at it), quotes, newlines, the private-use
character U+E000 that lineage's codec uses as its escape marker (alone and
followed by the letters of its escapes), and characters outside the BMP.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import attrs
from hypothesis import strategies as st

from lineage import Artifact, DataSet, Metrics, Model
from lineage.records import field_names, is_reserved_property_name, looks_misspelt

__all__ = [
    "CustomRecord",
    "data_sets",
    "json_values",
    "metrics",
    "models",
    "names",
    "records",
    "texts",
]

#: Pieces that have broken, or could break, a store or the codec.
NASTY = (
    "\\",
    "\\\\",
    "\\0",
    "\\'",
    "\x00",
    "'",
    '"',
    "''",
    "\n",
    "\r\n",
    "\t",
    "%",
    "_",
    "$1",
    "?",
    "\ue000",
    "\ue000m",
    "\ue000b",
    "\ue0000",
    "\ue000\ue000",
    "\ue001",
    "é",
    "ß",
    "😀",
    "\U0010fffd",
    "\u200b",
    "\ufeff",
    "\x7f",
    "\x01",
    " ",
)

#: Any text MLMD can carry as UTF-8 (no lone surrogates).
_plain = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)

texts = st.lists(st.one_of(_plain, st.sampled_from(NASTY)), max_size=5).map("".join)
#: Required strings: not blank.
names = texts.filter(lambda s: bool(s.strip()))
optional_texts = st.none() | texts

_INT64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_numbers = st.one_of(
    st.integers(min_value=-(2**31), max_value=2**31 - 1),
    _INT64,
    st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=False, allow_infinity=False),
)
_leaves = st.one_of(st.none(), st.booleans(), _numbers, texts)

#: JSON-able data as records accept it (tuples become lists at construction).
json_values = st.recursive(
    _leaves,
    lambda children: (
        st.lists(children, max_size=3)
        | st.lists(children, max_size=3).map(tuple)
        | st.dictionaries(texts, children, max_size=3)
    ),
    max_leaves=8,
)
json_objects = st.dictionaries(texts, json_values, max_size=4)

#: Names a user may give an extra property (not "LINEAGE.x": lineage
#: compares them as MySQL does, ignoring case).
property_names = names.filter(lambda s: not is_reserved_property_name(s))
#: Top-level extra values: ints become MLMD INT properties, so int64 at most.
_extra_values = st.one_of(
    st.none(),
    st.booleans(),
    _INT64,
    st.floats(allow_nan=False, allow_infinity=False),
    texts,
    st.lists(json_values, max_size=3),
    json_objects,
)
extras = st.dictionaries(property_names, _extra_values, max_size=4)


def _build(cls: type, required: Dict[str, Any], optional: Dict[str, Any], extra: Dict[str, Any]) -> Artifact:
    kwargs = {**{k: v for k, v in optional.items() if v is not None}, **required}
    # extras with the name of a real argument would set that argument instead;
    # one close to a field's name is warned about as a misspelling
    fields = list(field_names(cls))
    extra = {
        k: v for k, v in extra.items()
        if k not in kwargs and k not in _ARGUMENTS[cls] and not any(looks_misspelt(k, f) for f in fields)
    }
    return cls(**kwargs, **extra)


_ARGUMENTS = {
    DataSet: {"uri", "name", "workspace", "description", "owner", "version", "query", "labels"},
    Model: {
        "uri",
        "name",
        "workspace",
        "description",
        "owner",
        "version",
        "model_type",
        "training_framework",
        "hyperparameters",
        "labels",
    },
    Metrics: {
        "uri",
        "name",
        "workspace",
        "description",
        "owner",
        "data_set_id",
        "model_id",
        "metrics_type",
        "values",
        "labels",
    },
}

_common = {
    "description": optional_texts,
    "owner": optional_texts,
    "labels": st.none() | json_objects,
}

data_sets = st.builds(
    _build,
    st.just(DataSet),
    st.fixed_dictionaries({"uri": names, "name": names}),
    st.fixed_dictionaries({**_common, "version": optional_texts, "query": optional_texts}),
    extras,
)
models = st.builds(
    _build,
    st.just(Model),
    st.fixed_dictionaries({"uri": names, "name": names}),
    st.fixed_dictionaries(
        {
            **_common,
            "version": optional_texts,
            "model_type": optional_texts,
            "training_framework": json_values,
            "hyperparameters": st.none() | json_objects,
        }
    ),
    extras,
)
metrics = st.builds(
    _build,
    st.just(Metrics),
    st.fixed_dictionaries({"uri": names, "name": names}),
    st.fixed_dictionaries(
        {
            **_common,
            "data_set_id": optional_texts,
            "model_id": optional_texts,
            "metrics_type": st.none() | st.sampled_from([Metrics.TRAINING, Metrics.VALIDATION]) | texts,
            "values": st.none() | json_objects,
        }
    ),
    extras,
)


@attrs.define
class CustomRecord(Artifact):
    """A user's custom artifact type with a field of every kind."""

    ARTIFACT_TYPE_NAME = "acme.org/test/roundtrip"

    step: int = 0
    loss: float = 0.0
    tag: str = ""
    best: bool = False
    config: dict = attrs.Factory(dict)
    layers: list = attrs.Factory(list)
    parent: Optional[int] = None


custom_records = st.builds(
    CustomRecord,
    uri=names,
    name=names,
    description=optional_texts,
    labels=st.none() | json_objects,
    step=_INT64,
    loss=st.floats(allow_nan=False, allow_infinity=False),
    tag=texts,
    best=st.booleans(),
    config=json_objects,
    layers=st.lists(json_values, max_size=3),
    parent=st.none() | _INT64,
    extra=extras,
)

records = st.one_of(data_sets, models, metrics, custom_records)
