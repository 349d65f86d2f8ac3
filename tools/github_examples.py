"""Regenerate `src/issuepilot/testing/github/answers.json` from GitHub's REST description.

The fake GitHub answers with these example bodies (GitHub's own, from the MIT-licensed
`@octokit/openapi` description) with its live values laid over them, so its answers have
every field a real answer has. Where an example lacks a required field, the field is
filled from the schema, so every template validates.

    python tools/github_examples.py ../shared/github/api.github.com.json.gz
"""

import gzip
import json
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).parents[1] / "src" / "issuepilot" / "testing" / "github" / "answers.json"
# Keys whose presence states a fact the fake decides from its own state: GitHub's example
# issue is a pull request, and an answer saying so would make every issue one.
FACTS = {"issue": ["pull_request"]}
OPERATIONS = [
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}", "200"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels", "200"),
    ("DELETE", "/repos/{owner}/{repo}/issues/{issue_number}/labels/{name}", "200"),
    ("GET", "/repos/{owner}/{repo}/labels", "200"),
    ("POST", "/repos/{owner}/{repo}/labels", "201"),
    ("GET", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "200"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/comments", "201"),
    ("PATCH", "/repos/{owner}/{repo}/issues/comments/{comment_id}", "200"),
    ("GET", "/repos/{owner}/{repo}/collaborators/{username}/permission", "200"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}", "200"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}", "200"),
    ("POST", "/repos/{owner}/{repo}/git/blobs", "201"),
    ("POST", "/repos/{owner}/{repo}/git/trees", "201"),
    ("GET", "/repos/{owner}/{repo}/git/trees/{tree_sha}", "200"),
    ("POST", "/repos/{owner}/{repo}/git/commits", "201"),
    ("POST", "/repos/{owner}/{repo}/git/refs", "201"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}", "200"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}", "200"),
    ("GET", "/repos/{owner}/{repo}/pulls", "200"),
    ("POST", "/repos/{owner}/{repo}/pulls", "201"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}", "200"),
    ("GET", "/repos/{owner}/{repo}/rules/branches/{branch}", "200"),
    ("GET", "/repos/{owner}/{repo}/installation", "200"),
    ("POST", "/app/installations/{installation_id}/access_tokens", "201"),
]


class Spec:
    def __init__(self, path: str) -> None:
        with gzip.open(path, "rt", encoding="utf-8") as f:
            self.data = json.load(f)

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.data
            for part in node["$ref"].lstrip("#/").split("/"):
                target = target[part]
            node = target
        return node

    def complete(self, value: Any, schema: Any) -> Any:
        """Add what the schema requires and the example lacks; recurse into what is there."""
        schema = self.resolve(schema)
        for part in schema.get("allOf", []):
            value = self.complete(value, part)
        options = schema.get("oneOf") or schema.get("anyOf")
        if options:
            match = next((o for o in options if _fits(value, self.resolve(o).get("type"))), None)
            return self.complete(value, match) if match is not None else value
        if isinstance(value, list):
            return [self.complete(v, schema.get("items", {})) for v in value]
        if isinstance(value, dict):
            props = schema.get("properties", {})
            for name in schema.get("required", []):
                value.setdefault(name, _blank(self.resolve(props.get(name, {}))))
            for name, sub in props.items():
                if value.get(name) is not None:
                    value[name] = self.complete(value[name], sub)
        return value

    def example(self, method: str, path: str, status: str) -> Any:
        response = self.resolve(self.data["paths"][path][method.lower()]["responses"][status])
        content = response["content"]["application/json"]
        value = self.example_value(next(iter(content["examples"].values())))
        return self.complete(value, content["schema"])

    def example_value(self, node: Any) -> Any:
        """The value of an Example Object, or of a `$ref` to one (whose value may itself be
        a `$ref` to another example)."""
        name = node.get("$ref", "").rpartition("/")[2]
        value = self.resolve(node)["value"]
        if isinstance(value, dict) and "$ref" in value:
            return self.example_value(value)
        for key in FACTS.get(name, []):
            value.pop(key, None)
        return value


def main(spec_path: str) -> None:
    spec = Spec(spec_path)
    examples = {f"{m} {p}": spec.example(m, p, status) for m, p, status in OPERATIONS}
    OUT.write_text(json.dumps(examples, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(examples)} examples to {OUT}")


def _blank(schema: Any) -> Any:
    if schema.get("nullable"):
        return None
    if "enum" in schema:
        return schema["enum"][0]
    blanks = {"string": "", "integer": 0, "number": 0, "boolean": False, "array": []}
    return blanks.get(schema.get("type", "object"), {})


def _fits(value: Any, kind: str | None) -> bool:
    types = {"object": dict, "array": list, "string": str, "integer": int, "boolean": bool}
    return kind is None or isinstance(value, types.get(kind, object))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "../shared/github/api.github.com.json.gz")
