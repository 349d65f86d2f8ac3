"""Check a request against GitHub's official REST description (OpenAPI 3.0).

A small validator for the parts of JSON Schema the description uses in request bodies:
type (with `nullable`), properties, required, additionalProperties, items, enum,
minItems/maxItems, maxProperties, oneOf/anyOf/allOf.
"""

import functools
import gzip
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

SPEC = Path(__file__).parents[3] / "shared" / "github" / "api.github.com.json.gz"
# GitHub's REST description lies beside the project (shared/github), not inside it.
needs_spec = pytest.mark.skipif(not SPEC.exists(), reason=f"no REST description at {SPEC}")
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


@functools.cache
def spec() -> dict[str, Any]:
    with gzip.open(SPEC, "rt", encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@functools.cache
def routes() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in spec()["paths"]:
        # `{path}` of the contents API and `{ref}` of git refs may hold slashes.
        pattern = re.sub(r"\{(path|ref)\}", r"(?P<\1>.+)", template)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        out.append((re.compile(f"^{pattern}$"), template))
    # Prefer the most specific templates (fewest parameters) first.
    out.sort(key=lambda item: item[1].count("{"))
    return out


def resolve(node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = spec()
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def validate(value: Any, schema: Any, where: str = "body") -> list[str]:
    schema = resolve(schema)
    if value is None:
        return [] if schema.get("nullable") or schema.get("type") == "null" else [f"{where}: null"]
    for key in ("oneOf", "anyOf"):
        if key in schema:
            if any(not validate(value, s, where) for s in schema[key]):
                return []
            return [f"{where}: matches none of {key}"]
    errors = [e for s in schema.get("allOf", []) for e in validate(value, s, where)]
    kind = schema.get("type")
    if not _is_type(value, kind):
        return [f"{where}: expected {kind}, got {type(value).__name__}"]
    if "enum" in schema and value not in schema["enum"]:
        errors.append(f"{where}: {value!r} not in {schema['enum']}")
    if isinstance(value, dict):
        errors += _validate_object(value, schema, where)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            errors.append(f"{where}: fewer than {schema['minItems']} items")
        items = schema.get("items", {})
        errors += [e for i, v in enumerate(value) for e in validate(v, items, f"{where}[{i}]")]
    return errors


def check_request(method: str, url: str, body: Any) -> None:
    parts = urlsplit(url)
    path = parts.path
    for pattern, template in routes():
        if pattern.match(path) and method.lower() in spec()["paths"][template]:
            break
    else:
        raise AssertionError(f"{method} {path}: no such operation in GitHub's REST description")
    operation = spec()["paths"][template][method.lower()]
    params = [resolve(p) for p in operation.get("parameters", [])]
    known = {p["name"] for p in params if p["in"] == "query"}
    for name, values in parse_qs(parts.query).items():
        assert name in known, f"{method} {template}: unknown query parameter {name!r}"
        schema = next(p["schema"] for p in params if p["name"] == name and p["in"] == "query")
        value: Any = values[-1]
        if resolve(schema).get("type") == "integer":
            value = int(value)
        assert not validate(value, schema, name), f"{method} {template}: bad {name}={value!r}"
    request_body = operation.get("requestBody")
    if body is None:
        assert not (request_body or {}).get("required"), f"{method} {template}: body required"
        return
    assert request_body, f"{method} {template}: takes no body"
    schema = resolve(request_body)["content"]["application/json"]["schema"]
    errors = validate(body, schema)
    assert not errors, f"{method} {template}: {errors}"


def _validate_object(value: dict[str, Any], schema: Any, where: str) -> list[str]:
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties")
    errors = [f"{where}: missing {k!r}" for k in schema.get("required", []) if k not in value]
    if len(value) > schema.get("maxProperties", len(value)):
        errors.append(f"{where}: too many properties")
    for k, v in value.items():
        if k in props:
            errors += validate(v, props[k], f"{where}.{k}")
        elif extra is False:
            errors.append(f"{where}: unknown property {k!r}")
        elif isinstance(extra, dict):
            errors += validate(v, extra, f"{where}.{k}")
    return errors


def _is_type(value: Any, kind: str | None) -> bool:
    if isinstance(value, bool):
        return kind in (None, "boolean")
    if kind == "integer":
        return isinstance(value, int)
    if kind == "number":
        return isinstance(value, int | float)
    return kind is None or isinstance(value, TYPES[kind])
