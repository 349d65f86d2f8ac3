"""Regenerate every file made from GitHub's published API descriptions.

Reads GitHub's REST description (`api.github.com.json.gz`, from the npm package
`@octokit/openapi` 23.0.2) and webhook schemas (`webhooks.schema.json.gz`, from
`@octokit/webhooks-schemas` 7.6.1), both MIT-licensed (see tests/github/NOTICE), and writes:

- src/issuepilot/testing/github/answers.json: the example answer of each operation the
  fake GitHub serves, completed where the answer's schema requires a field it lacks;
- src/issuepilot/testing/github/events.json: a payload template of each event the fake
  builds, made of the REST description's example objects, completed where the event's
  webhook schema requires a field and pruned of what it forbids;
- tests/github/rest-api.json: the operations the fake serves and every component they
  reference, trimmed of prose and examples, so the tests check requests and answers;
- tests/github/webhooks.json: the webhook schemas of those events and every definition
  they reference, trimmed the same way.

The operations are read from the fake's route table, so a new route is picked up by
running this again:

    .venv/bin/python tools/github_data.py [FOLDER HOLDING THE TWO FILES]
"""

import copy
import gzip
import json
import sys
from pathlib import Path
from typing import Any

from issuepilot.testing.github.routes import ROUTES

Json = Any
ROOT = Path(__file__).parents[1]
FAKE = ROOT / "src" / "issuepilot" / "testing" / "github"
VENDORED = ROOT / "tests" / "github"
# Keys whose presence states a fact the fake decides from its own state: GitHub's example
# issue is a pull request, and a template saying so would make every issue one; its
# example review comment is a reply, and would make every comment one.
FACTS = {
    "issue": ["pull_request"],
    "issue-items": ["pull_request"],
    "review-comment-items": ["in_reply_to_id"],
    "pull-request-review-comment": ["in_reply_to_id"],
    "pull-request-review-comment-items": ["in_reply_to_id"],
}
# Every event the fake builds, by its webhook schema's name: which of the REST
# description's example objects fills each field. All of them also carry the repository
# and the sender.
EVENTS: dict[str, dict[str, str]] = {
    "issues$labeled": {"issue": "issue", "label": "label"},
    "issues$unlabeled": {"issue": "issue", "label": "label"},
    "issues$closed": {"issue": "issue"},
    "issues$reopened": {"issue": "issue"},
    "issue_comment$created": {"issue": "issue", "comment": "issue-comment"},
    "pull_request$closed": {"pull_request": "pull-request"},
    "pull_request_review$submitted": {
        "review": "pull-request-review",
        "pull_request": "pull-request-simple",
    },
    "workflow_run$completed": {"workflow_run": "workflow-run", "workflow": "workflow"},
    "check_run$completed": {"check_run": "check-run"},
    "workflow_dispatch$event": {},
}
REPOSITORY, SENDER = "full-repository", "simple-user"
# The webhook schemas do not name their version: keep this in step with the file read.
WEBHOOKS_PACKAGE = "@octokit/webhooks-schemas 7.6.1"
# Keywords that only explain: dropped from the vendored descriptions. A property that
# happens to bear one of these names is kept (see `trim`).
PROSE = {
    "description",
    "summary",
    "title",
    "examples",
    "example",
    "externalDocs",
    "operationId",
    "tags",
    "x-github",
    "x-github-breaking-changes",
    "x-octokit",
    "tsAdditionalProperties",
}
NAME_MAPS = {"properties", "patternProperties", "definitions"}  # their keys are names
PY_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
    "null": type(None),
}
BLANKS = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}


class Document:
    """A JSON document of schemas whose `$ref`s point inside it (`#/...`)."""

    def __init__(self, path: Path) -> None:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            self.data: Json = json.load(f)

    def at(self, pointer: str) -> Json:
        node = self.data
        for part in _parts(pointer):
            node = node[part]
        return node

    def resolve(self, node: Json) -> Json:
        while isinstance(node, dict) and "$ref" in node:
            node = self.at(node["$ref"])
        return node

    # -- examples fitted to a schema -----------------------------------------------------

    def fit(self, value: Json, schema: Json) -> Json:
        """`value` with what the schema requires and it lacks added (blank), and the
        properties the schema forbids removed; recursively."""
        schema = self.resolve(schema)
        for part in schema.get("allOf", []):
            value = self.fit(value, part)
        options = schema.get("oneOf") or schema.get("anyOf")
        if options:
            match = next((o for o in options if _fits(value, self.resolve(o))), None)
            return value if match is None else self.fit(value, match)
        if isinstance(value, list):
            return [self.fit(item, schema.get("items", {})) for item in value]
        if isinstance(value, dict):
            return self._fit_object(value, schema)
        return value

    def _fit_object(self, value: dict[str, Json], schema: Json) -> dict[str, Json]:
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            value = {k: v for k, v in value.items() if k in props}
        for name, sub in props.items():
            if name in value and not _fits(value[name], self.resolve(sub)):
                del value[name]  # a value of another type than the schema's: made anew
        for name in schema.get("required", []):
            if name not in value:
                value[name] = self.blank(props.get(name, {}))
        for name, sub in props.items():
            if value.get(name) is not None:
                value[name] = self.fit(value[name], sub)
        return value

    def blank(self, schema: Json) -> Json:
        """The emptiest value the schema allows: null where it may be null."""
        schema = self.resolve(schema)
        options = [self.resolve(o) for o in schema.get("oneOf") or schema.get("anyOf") or []]
        if _nullable(schema) or any(_nullable(o) for o in options):
            return None
        if options:
            return self.blank(options[0])
        if schema.get("enum"):
            return schema["enum"][0]
        kinds = _types(schema) or ["object"]
        return copy.copy(BLANKS.get(kinds[0], {}))  # an object is filled in by `fit`

    # -- the REST description's examples -------------------------------------------------

    def named_example(self, name: str) -> Json:
        return self.example({"$ref": f"#/components/examples/{name}"})

    def example(self, node: Json) -> Json:
        """The value of an Example Object (or of a `$ref` to one), as a fresh copy."""
        name = node.get("$ref", "").rpartition("/")[2] if isinstance(node, dict) else ""
        value = self.resolve(node)["value"]
        if isinstance(value, dict) and "$ref" in value:  # the value is another example
            return self.example(value)
        value = copy.deepcopy(value)
        for item in value if isinstance(value, list) else [value]:
            for key in FACTS.get(name, []):
                item.pop(key, None)
        return value

    def answer(self, method: str, template: str) -> Json:
        """The operation's first example of a successful JSON answer, fitted to its
        schema; None when it answers no JSON (204)."""
        responses = self.data["paths"][template][method.lower()]["responses"]
        for status in sorted(s for s in responses if s.startswith("2")):
            content = self.resolve(responses[status]).get("content", {}).get("application/json")
            if content and content.get("examples"):
                first = next(iter(content["examples"].values()))
                return self.fit(self.example(first), content["schema"])
        return None


def _types(schema: Json) -> list[str]:
    kinds = schema.get("type", [])
    return [kinds] if isinstance(kinds, str) else list(kinds)


def _nullable(schema: Json) -> bool:
    """Null allowed, as OpenAPI 3.0 (`nullable`) or JSON Schema (`type: null`) says it."""
    return bool(schema.get("nullable")) or "null" in _types(schema)


def _fits(value: Json, schema: Json) -> bool:
    """Whether the value has a type the schema names (any, if it names none)."""
    kinds = _types(schema)
    if not kinds:
        return True
    if value is None:
        return _nullable(schema)
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, PY_TYPES[k]) for k in kinds if k != "null")


# -- event templates ------------------------------------------------------------------------


def event_templates(rest: Document, webhooks: Document) -> dict[str, Json]:
    templates = {}
    for name, fields in EVENTS.items():
        action = name.partition("$")[2]
        payload = {key: rest.named_example(example) for key, example in fields.items()}
        payload |= {
            "repository": rest.named_example(REPOSITORY),
            "sender": rest.named_example(SENDER),
        }
        if action != "event":
            payload["action"] = action
        templates[name] = webhooks.fit(payload, {"$ref": f"#/definitions/{name}"})
    # `schedule` is no webhook and has no schema: only its repository is fitted.
    repository = rest.named_example(REPOSITORY)
    templates["schedule"] = {
        "repository": webhooks.fit(repository, {"$ref": "#/definitions/repository"})
    }
    return templates


# -- vendored subsets -------------------------------------------------------------------


def trim(node: Json) -> Json:
    """`node` without the keywords in PROSE (at any depth)."""
    if isinstance(node, list):
        return [trim(item) for item in node]
    if not isinstance(node, dict):
        return node
    return {
        key: ({name: trim(s) for name, s in value.items()} if key in NAME_MAPS else trim(value))
        for key, value in node.items()
        if key not in PROSE
    }


def subset(doc: Document, pointers: list[str]) -> dict[str, Json]:
    """The nodes at `pointers` and every node they reference, directly or not, trimmed and
    placed where they are in `doc`, so their `$ref`s still resolve."""
    out: dict[str, Json] = {}
    todo, seen = list(pointers), set()
    while todo:
        pointer = todo.pop()
        if pointer in seen:
            continue
        seen.add(pointer)
        node = trim(doc.at(pointer))
        _place(out, pointer, node)
        todo += [ref.removeprefix("#") for ref in _refs(node)]
    return out


def _refs(node: Json) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for key, value in node.items() if key != "$ref" for ref in _refs(value)]


def _place(out: dict[str, Json], pointer: str, node: Json) -> None:
    *parents, last = _parts(pointer)
    for part in parents:
        out = out.setdefault(part, {})
    out[last] = node


def _parts(pointer: str) -> list[str]:
    """The keys a JSON pointer (`#/a/b`) names, unescaped (RFC 6901)."""
    return [p.replace("~1", "/").replace("~0", "~") for p in pointer.lstrip("#/").split("/")]


def _pointer(*keys: str) -> str:
    return "".join("/" + key.replace("~", "~0").replace("/", "~1") for key in keys)


def rest_subset(rest: Document) -> dict[str, Json]:
    pointers = [_pointer("paths", route.template, route.method.lower()) for route in ROUTES]
    info = {k: rest.data["info"][k] for k in ("title", "version", "license")}
    return {"openapi": rest.data["openapi"], "info": info, **subset(rest, pointers)}


def webhooks_subset(webhooks: Document) -> dict[str, Json]:
    pointers = [_pointer("definitions", name) for name in [*EVENTS, "repository"]]
    source = f"A part of {WEBHOOKS_PACKAGE} (MIT License): see NOTICE."
    return {"$schema": webhooks.data["$schema"], "$comment": source, **subset(webhooks, pointers)}


# -- main -------------------------------------------------------------------------------


def write(path: Path, data: Json, minify: bool) -> None:
    if minify:
        text = json.dumps(data, separators=(",", ":"), sort_keys=True)
    else:
        text = json.dumps(data, indent=1, sort_keys=True)
    path.write_text(text + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


def main(folder: Path) -> None:
    rest = Document(folder / "api.github.com.json.gz")
    webhooks = Document(folder / "webhooks.schema.json.gz")
    answers = {f"{r.method} {r.template}": rest.answer(r.method, r.template) for r in ROUTES}
    write(FAKE / "answers.json", {k: v for k, v in answers.items() if v is not None}, False)
    write(FAKE / "events.json", event_templates(rest, webhooks), False)
    VENDORED.mkdir(exist_ok=True)
    write(VENDORED / "rest-api.json", rest_subset(rest), True)
    write(VENDORED / "webhooks.json", webhooks_subset(webhooks), True)


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared" / "github"))
