"""Gemini CLI (`@google/gemini-cli`): headless with `--prompt ""` (the prompt on stdin),
one JSON object on stdout with the answer and the per-model statistics.

Its settings live in `.gemini/settings.json` of the fresh home: the API-key sign-in, usage
statistics (sent to Google otherwise), telemetry and update checks off, and no web tools.
`--approval-mode auto_edit` lets it edit files in the checkout (its file tools refuse paths
outside it) and, headless, offers no shell tool at all: the repository's checks are
IssuePilot's to run. `--skip-trust` is how a headless run works in a folder it was never
told to trust.

The endpoint is always named, `GOOGLE_GEMINI_BASE_URL` (the `@google/genai` SDK's base
URL), even when it is Google's own: the CLI reads `.env` files from the checkout, and a
variable set there would otherwise move the key to another host; one set in its
environment is never overridden.
"""

import json
from typing import Any

from .base import Install, Invocation, Preset, Report

VERSION = "0.61.0"
DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
SETTINGS = {
    "security": {"auth": {"selectedType": "gemini-api-key"}},
    "privacy": {"usageStatisticsEnabled": False},
    "telemetry": {"enabled": False},
    "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False},
    "tools": {"exclude": ["web_fetch", "google_web_search"]},
}


class Gemini(Preset):
    name = "gemini"
    title = "Gemini CLI"
    install = Install("npm", "@google/gemini-cli", VERSION, "gemini")
    keys = ("GEMINI_API_KEY",)
    endpoint = DEFAULT_BASE_URL

    def argv(self, run: Invocation) -> list[str]:
        argv = [run.binary, "--prompt", "", "--output-format", "json"]
        argv += ["--approval-mode", "auto_edit", "--skip-trust"]
        return argv + (["--model", run.model] if run.model else [])

    def env(self, run: Invocation) -> dict[str, str]:
        return {
            "GEMINI_API_KEY": run.key,
            "GOOGLE_GEMINI_BASE_URL": run.base_url or DEFAULT_BASE_URL,
            # Otherwise it starts Node a second time to raise its heap to half the machine's
            # memory: a second start (1-2 s) for a run that needs no such heap.
            "GEMINI_CLI_NO_RELAUNCH": "1",
        }

    def home_files(self, run: Invocation) -> dict[str, str]:
        return {".gemini/settings.json": json.dumps(SETTINGS, indent=1)}

    def report(self, output: str) -> Report:
        answer = _object(output)
        models = (answer.get("stats") or {}).get("models") or {}
        turns = tokens = 0
        for figures in models.values() if isinstance(models, dict) else []:
            turns += _count((figures.get("api") or {}).get("totalRequests"))
            tokens += _count((figures.get("tokens") or {}).get("total"))
        error = answer.get("error")
        failed = str(error.get("message") or "it failed") if isinstance(error, dict) else ""
        return Report(turns, tokens, 0.0, str(answer.get("response") or ""), failed)


def _object(output: str) -> dict[str, Any]:
    """The JSON object it printed (after any line that is not JSON)."""
    start = output.find("{")
    while start != -1:
        try:
            value, _ = json.JSONDecoder().raw_decode(output, start)
        except ValueError:
            start = output.find("{", start + 1)
            continue
        return value if isinstance(value, dict) else {}
    return {}


def _count(value: object) -> int:
    return value if isinstance(value, int) else 0
