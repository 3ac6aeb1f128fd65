"""datetime, date and Enum fields of a custom record class.

A data scientist's own record type with ``trained_at: datetime`` or
``split: Split`` (an Enum) was refused when a record was made ("must be
JSON-able data"): such fields are stored as ISO 8601 text and as the
member's value, typed properties of the MLMD type, and read back as the
datetime, date or member they were.
"""

from __future__ import annotations

import datetime
import enum
from typing import Optional

import attrs
import pytest
from ml_metadata.proto import metadata_store_pb2 as pb

import lineage
from lineage.errors import InvalidTypeError
from lineage.records import schema_of
from lineage.store import _codec, reset_connections
from tests import backends

BACKENDS = ("sqlite", "postgresql")


class Split(str, enum.Enum):
    TRAIN = "train"
    TEST = "test"


class Level(enum.IntEnum):
    LOW = 1
    HIGH = 2


class Stage(enum.Enum):
    PREP = "prep"
    FIT = "fit"


class Shape(enum.Enum):
    SQUARE = (1, 1)
    WIDE = (2, 1)


@attrs.define
class Snapshot(lineage.Artifact):
    ARTIFACT_TYPE_NAME = "test.typed/Snapshot"
    taken: Optional[datetime.datetime] = None
    day: Optional[datetime.date] = None
    split: Split = Split.TRAIN
    level: Optional[Level] = None
    stage: Optional[Stage] = None
    shape: Optional[Shape] = None


@attrs.define
class Release(lineage.Artifact):
    ARTIFACT_TYPE_NAME = "test.typed/Release"
    DEDUPLICATE = True
    version: Optional[Stage] = None


_AWARE = datetime.datetime(2024, 3, 1, 12, 30, 5, 123456, tzinfo=datetime.timezone(datetime.timedelta(hours=-5)))


def _fresh(url: str) -> lineage.Store:
    """A Store as a new process would see it: no cached ids or types."""
    reset_connections()
    return lineage.Store(url=url)


@pytest.fixture(params=BACKENDS)
def url(request, tmp_path) -> str:
    return backends.make_url(request.param, tmp_path)


class TestMade:
    def test_such_fields_are_taken(self):
        day = datetime.date(2024, 3, 1)
        record = Snapshot(uri="s3://s", name="s", taken=_AWARE, day=day, split=Split.TEST, stage=Stage.FIT)
        assert (record.taken, record.day, record.split, record.stage) == (_AWARE, day, Split.TEST, Stage.FIT)

    def test_their_kinds(self):
        kinds = {p.name: p.kind for p in schema_of(Snapshot).properties}
        names = ("taken", "day", "split", "level", "stage", "shape")
        assert [kinds[n] for n in names] == ["str", "str", "str", "int", "str", "json"]

    @pytest.mark.parametrize(
        "field, value, expected",
        [
            (
                "taken",
                "2024-03-01T12:00:00",
                r"Snapshot\.taken must be a datetime\.datetime, got '2024-03-01T12:00:00' \(str\) "
                r"\(give datetime\.datetime\.fromisoformat\('2024-03-01T12:00:00'\)",
            ),
            ("taken", datetime.date(2024, 3, 1), r"Snapshot\.taken must be a datetime\.datetime, got datetime\.date\(2024, 3, 1"),
            (
                "day",
                datetime.datetime(2024, 3, 1, 9),
                r"Snapshot\.day must be a datetime\.date, got datetime\.datetime\(2024, 3, 1, 9, 0\) .*time would be lost",
            ),
            (
                "split",
                "train",
                r"Snapshot\.split must be a member of .*Split, got 'train' \(str\) "
                r"\(the value of Split\.TRAIN: give Split\('train'\), or add converter=Split",
            ),
            ("level", 3, r"Snapshot\.level must be a member of .*Level, got 3 \(int\)"),
            ("stage", Split.TRAIN, r"Snapshot\.stage must be a member of .*Stage, got <Split\.TRAIN: 'train'>"),
        ],
    )
    def test_a_value_of_another_type_is_refused_naming_the_field_and_the_value(self, field, value, expected):
        with pytest.raises(InvalidTypeError, match=expected):
            Snapshot(uri="s3://s", name="s", **{field: value})
        record = Snapshot(uri="s3://s", name="s", taken=_AWARE)
        with pytest.raises(InvalidTypeError, match=expected):
            setattr(record, field, value)
        assert record.taken == _AWARE  # the field keeps what it held

    def test_a_field_of_another_annotation_says_how_to_annotate_it(self):
        @attrs.define
        class Loose(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.typed/Loose"
            when: Optional[datetime.datetime | str] = None

        expected = r"Loose\.when must be JSON-able data .* \(a datetime, date or Enum is taken by a field annotated with its cl"
        with pytest.raises(InvalidTypeError, match=expected):
            Loose(uri="s3://l", name="l", when=_AWARE)
        assert Loose(uri="s3://l", name="l", when="yesterday").when == "yesterday"

    def test_a_converter_makes_a_datetime_of_a_str(self):
        @attrs.define
        class Parsed(lineage.Artifact):
            ARTIFACT_TYPE_NAME = "test.typed/Parsed"
            taken: datetime.datetime = attrs.field(
                default=None, converter=attrs.converters.optional(datetime.datetime.fromisoformat)
            )

        assert Parsed(uri="s3://p", name="p", taken="2024-03-01T12:00:00").taken == datetime.datetime(2024, 3, 1, 12)


class TestStored:
    def test_they_round_trip(self, url):
        record = Snapshot(
            uri="s3://s",
            name="s",
            taken=_AWARE,
            day=datetime.date(1999, 12, 31),
            split=Split.TEST,
            level=Level.HIGH,
            stage=Stage.FIT,
            shape=Shape.WIDE,
        )
        naive = Snapshot(uri="s3://n", name="n", taken=datetime.datetime(2024, 3, 1, 12, 30))
        lineage.init(store=url, workspace="w", strict=True)
        with lineage.execution("snap") as ex:
            ex.log_output(record)
            ex.log_output(naive)

        store = _fresh(url)
        read = store.get_artifact(record.id)
        assert read == record
        assert (type(read.taken), read.taken.utcoffset(), type(read.day), read.split, read.level, read.shape) == (
            datetime.datetime, datetime.timedelta(hours=-5), datetime.date, Split.TEST, Level.HIGH, Shape.WIDE
        )
        assert store.get_artifact(naive.id).taken.tzinfo is None
        [stored] = store.store.get_artifacts_by_id([record.id])
        # Typed properties, to query by: ISO text, the member's value.
        assert stored.properties["taken"].string_value == "2024-03-01T12:30:05.123456-05:00"
        assert stored.properties["day"].string_value == "1999-12-31"
        assert (stored.properties["split"].string_value, stored.properties["level"].int_value) == ("test", 2)
        assert stored.properties["stage"].string_value == "fit"
        [stored_type] = store.store.get_artifact_types_by_id([stored.type_id])
        assert (stored_type.properties["taken"], stored_type.properties["level"]) == (pb.STRING, pb.INT)

    def test_a_type_an_earlier_lineage_registered_with_them_as_structs(self, url):
        """lineage before took such fields for JSON: a class whose records
        left them None (or held a str Enum's member, JSON-able data) had its
        type registered with them as STRUCT properties, which MLMD will not
        retype. Its records are stored in it, and read back as they were."""
        store = lineage.Store(url=url)
        earlier = pb.ArtifactType()
        earlier.CopyFrom(_codec.artifact_type(schema_of(Snapshot)))
        for name in ("taken", "day", "split", "level", "stage"):
            earlier.properties[name] = pb.STRUCT
        store.store.put_artifact_type(earlier)
        lineage.init(store=url, workspace="w", strict=True)
        record = Snapshot(uri="s3://s", name="s", taken=_AWARE, day=datetime.date(2024, 3, 1), split=Split.TEST, level=Level.LOW)
        with lineage.execution("snap") as ex:
            ex.log_output(record)
        store = _fresh(url)
        assert store.get_artifact(record.id) == record
        [stored] = store.store.get_artifacts_by_id([record.id])
        assert stored.properties["taken"].struct_value["value"] == "2024-03-01T12:30:05.123456-05:00"

    def test_a_value_no_member_has_now_is_read_as_stored(self, url):
        lineage.init(store=url, workspace="w", strict=True)
        with lineage.execution("snap") as ex:
            record = ex.log_output(Snapshot(uri="s3://s", name="s", stage=Stage.PREP))
        store = _fresh(url)
        [stored] = store.store.get_artifacts_by_id([record.id])
        meta = stored.properties[_codec.ALL_META].string_value
        stored.properties[_codec.ALL_META].string_value = meta.replace('"stage": "prep"', '"stage": "gone"')
        store.store.put_artifacts([stored])
        assert _fresh(url).get_artifact(record.id).stage == "gone"

    def test_an_enum_identifies_a_deduplicated_record(self, url):
        lineage.init(store=url, workspace="w", strict=True)
        with lineage.execution("release") as ex:
            first = ex.log_output(Release(uri="s3://r", name="r", version=Stage.FIT))
        with lineage.execution("release") as ex:
            again = ex.log_output(Release(uri="s3://r", name="r", version=Stage.FIT))
            other = ex.log_output(Release(uri="s3://r", name="r", version=Stage.PREP))
        assert first.id == again.id != other.id
        assert _fresh(url).get_artifact(first.id).version is Stage.FIT
