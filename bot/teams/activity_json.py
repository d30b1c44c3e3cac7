"""An activity's JSON as a botbuilder ``Activity``, as the schema's own (msrest) deserializer
reads it, at a fraction of its cost: msrest looks up every one of the schema's attributes
through its generic extractors, about half a millisecond of CPU an activity, a quarter of a
card click.

When every field present has the JSON type the schema declares for it (what the channel sends),
the models are built here: the same attributes, nested models and lists of them, ISO 8601
timestamps, and the keys the schema does not know kept in ``additional_properties``. Anything
else (a number where text belongs, a malformed timestamp) is left to msrest, which converts or
refuses it exactly as before.
"""
from __future__ import annotations

import botbuilder.schema as schema
from botbuilder.schema import Activity
from msrest.serialization import Deserializer, Model


class _LeftToMsrest(Exception):
    """A value the direct path does not read."""


def activity_from_json(body: dict) -> Activity:
    """The Activity ``body`` describes; raises msrest's errors for what it cannot read."""
    try:
        activity = _model(Activity, body)
    except _LeftToMsrest:
        return Activity().deserialize(body)
    assert isinstance(activity, Activity)
    return activity


_Fields = tuple[tuple[tuple[str, str, str], ...], frozenset[str]]
_FIELDS: dict[type[Model], _Fields] = {}


def _fields(model: type[Model]) -> _Fields:
    """(attribute, JSON key, schema type) of each of the model's fields, and its JSON keys."""
    found = _FIELDS.get(model)
    if found is None:
        fields = tuple(
            (attribute, spec["key"], spec["type"]) for attribute, spec in model._attribute_map.items()
            if attribute != "additional_properties"
        )
        found = _FIELDS[model] = fields, frozenset(key for _, key, _ in fields)
    return found


def _model(model: type[Model], data) -> Model:
    if not isinstance(data, dict):
        raise _LeftToMsrest
    fields, known = _fields(model)
    values = {}
    for attribute, key, kind in fields:
        value = data.get(key)
        if value is not None:
            values[attribute] = _value(kind, value)
    built = model(**values)
    unknown = data.keys() - known
    if unknown:
        built.additional_properties = {key: data[key] for key in unknown}
    return built


def _value(kind: str, value):
    if kind == "str" or kind == "bool":
        if type(value) is not (str if kind == "str" else bool):
            raise _LeftToMsrest
        return value
    if kind == "object":
        return value
    if kind == "int":
        if type(value) is not int:
            raise _LeftToMsrest
        return value
    if kind == "iso-8601":
        try:
            return Deserializer.deserialize_iso(value)
        except Exception:  # msrest's own error for a timestamp it cannot read
            raise _LeftToMsrest from None
    if kind.startswith("[") and kind.endswith("]"):
        if not isinstance(value, list):
            raise _LeftToMsrest
        return [_value(kind[1:-1], item) for item in value]
    model = getattr(schema, kind, None)
    if isinstance(model, type) and issubclass(model, Model):
        return _model(model, value)
    raise _LeftToMsrest
