"""Validation against the vendored descriptions, with `jsonschema` (JSON Schema draft-07).

The webhook schemas are draft-07 already. The REST description is OpenAPI 3.0, whose
schemas are draft-07 but for `nullable`, which is translated here to JSON Schema's null
type, so one validator serves both.
"""

import functools
import json
from pathlib import Path
from typing import Any

from jsonschema import Draft7Validator

HERE = Path(__file__).parent
REST = HERE / "rest-api.json"
WEBHOOKS = HERE / "webhooks.json"


class Schemas:
    """A document of schemas whose `$ref`s point inside it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self._validator = Draft7Validator(document)

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.document
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def errors(self, value: Any, schema: Any) -> list[str]:
        """What makes `value` fail `schema` (a node of this document or a `$ref` into it)."""
        found = self._validator.evolve(schema=schema).iter_errors(value)
        return [f"{'.'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in found]


@functools.cache
def rest() -> Schemas:
    """The REST operations the client and the fake use, and their components."""
    return Schemas(from_openapi(json.loads(REST.read_text(encoding="utf-8"))))


@functools.cache
def webhooks() -> Schemas:
    """The webhook schemas of the events the fake builds, and their definitions."""
    return Schemas(json.loads(WEBHOOKS.read_text(encoding="utf-8")))


def event_errors(definition: str, payload: Any) -> list[str]:
    """What makes an event payload fail its webhook schema, named like `issues$labeled`."""
    return webhooks().errors(payload, {"$ref": f"#/definitions/{definition}"})


def from_openapi(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema says it: null is one more type (and
    one more value of an enum); a schema without a type of its own may also be null."""
    if isinstance(node, list):
        return [from_openapi(item) for item in node]
    if not isinstance(node, dict):
        return node
    nullable = node.get("nullable") is True  # a property named "nullable" is no keyword
    schema = {k: from_openapi(v) for k, v in node.items() if not (k == "nullable" and nullable)}
    if not nullable:
        return schema
    if "enum" in schema:
        schema["enum"] = [*schema["enum"], None]
    if "type" in schema:
        schema["type"] = [schema["type"], "null"]
        return schema
    return {"anyOf": [schema, {"type": "null"}]}
