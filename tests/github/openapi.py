"""Check a request, and an answer, against GitHub's official REST description.

Which operation a request is for is found by matching its path against the description's
path templates; its query parameters, its body, and an answer's body are then validated
with the operation's schemas (`schemas.rest()`).
"""

import functools
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .schemas import rest


@functools.cache
def routes() -> list[tuple[re.Pattern[str], str]]:
    out = []
    for template in rest().document["paths"]:
        # `{path}` of the contents API, `{ref}` of git refs and `{basehead}` of a comparison
        # (two branch names) may hold slashes.
        pattern = re.sub(r"\{(path|ref|basehead)\}", r"(?P<\1>.+)", template)
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern)
        out.append((re.compile(f"^{pattern}$"), template))
    # Prefer the most specific templates (fewest parameters) first.
    out.sort(key=lambda item: item[1].count("{"))
    return out


def operation(method: str, template: str) -> dict[str, Any]:
    found: dict[str, Any] = rest().document["paths"][template][method.lower()]
    return found


def check_request(method: str, url: str, body: Any) -> None:
    parts = urlsplit(url)
    paths = rest().document["paths"]
    template = next(
        (t for pattern, t in routes() if pattern.match(parts.path) and method.lower() in paths[t]),
        None,
    )
    assert template, f"{method} {parts.path}: no such operation in GitHub's REST description"
    where = f"{method} {template}"
    _check_query(where, operation(method, template), parse_qs(parts.query))
    request_body = rest().resolve(operation(method, template).get("requestBody"))
    if body is None:
        assert not (request_body or {}).get("required"), f"{where}: body required"
        return
    assert request_body, f"{where}: takes no body"
    errors = rest().errors(body, request_body["content"]["application/json"]["schema"])
    assert not errors, f"{where}: {errors}"


def answer_errors(method: str, template: str, status: int, body: Any) -> list[str]:
    """What makes an answer's body fail the operation's schema for its status."""
    response = rest().resolve(operation(method, template)["responses"][str(status)])
    return rest().errors(body, response["content"]["application/json"]["schema"])


def _check_query(where: str, op: dict[str, Any], query: dict[str, list[str]]) -> None:
    params = [rest().resolve(p) for p in op.get("parameters", [])]
    schemas = {p["name"]: p["schema"] for p in params if p["in"] == "query"}
    for name, values in query.items():
        assert name in schemas, f"{where}: unknown query parameter {name!r}"
        value = _typed(values[-1], schemas[name])
        assert not rest().errors(value, schemas[name]), f"{where}: bad {name}={value!r}"


def _typed(text: str, schema: Any) -> Any:
    """A query value as the type its schema names: a query string holds only text."""
    kinds = rest().resolve(schema).get("type", [])
    return int(text) if "integer" in ([kinds] if isinstance(kinds, str) else kinds) else text
