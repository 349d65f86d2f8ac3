"""Planner and executor on any OpenAI-compatible chat-completions endpoint.

Default endpoint: GitHub Models with the workflow token (`models: read`). The `openai`
SDK is imported only when a model is really called: it costs ~0.3 s at start-up.
"""

import importlib
import json
import re
import threading
import time
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..errors import ModelError, first_error
from ..models import ChangeSet, Plan
from . import prompts
from .base import IssueText, RepoFiles
from .budget import Budget

T = TypeVar("T", bound=BaseModel)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def preload() -> None:
    """Import the SDK on a thread, so its cost overlaps the step's first network round trips
    (imports run while the main thread waits on sockets)."""
    threading.Thread(target=importlib.import_module, args=("openai",), daemon=True).start()


class OpenAIAgent:
    """Both roles, on one endpoint. Malformed answers are sent back once with the error."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str,
        timeout_s: float = 120,
        attempts: int = 2,
        budget: Budget | None = None,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.budget = budget or Budget()
        self.notices: list[str] = []
        self._client: Any = None

    def _sdk(self) -> Any:
        if self._client is None:
            from openai import AsyncOpenAI

            self._client = AsyncOpenAI(
                base_url=self.base_url, api_key=self.api_key, timeout=self.timeout_s, max_retries=2
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        import openai

        self.budget.check()
        started = time.monotonic()
        try:
            reply = await self._sdk().chat.completions.create(
                model=self.model, messages=messages, temperature=0
            )
        except openai.APIStatusError as exc:
            raise ModelError(
                f"the model endpoint answered {exc.status_code}: {exc.message}"
            ) from None
        except openai.APIError as exc:
            raise ModelError(f"the model endpoint failed: {exc}") from None
        finally:
            self.budget.seconds += time.monotonic() - started
        self.budget.calls += 1
        if reply.usage is not None:
            self.budget.tokens += reply.usage.total_tokens or 0
            # Some endpoints (OpenRouter, LiteLLM) report the cost of the call.
            self.budget.cost += float(getattr(reply.usage, "cost", None) or 0)
        return str(reply.choices[0].message.content or "") if reply.choices else ""

    async def _ask(self, system: str, user: str, schema: type[T]) -> T:
        messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
        error = ""
        for _ in range(self.attempts):
            content = await self._complete(messages)
            try:
                return schema.model_validate(json.loads(_unfence(content)))
            except (ValueError, ValidationError) as exc:
                error = _describe(exc)
            messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": prompts.RETRY.format(error=error)},
            ]
        raise ModelError(f"the model kept answering with an invalid {schema.__name__}: {error}")

    async def plan(self, issue: IssueText, context: RepoFiles) -> Plan:
        return await self._ask(prompts.PLANNER_SYSTEM, prompts.planner_prompt(issue, context), Plan)

    async def execute(self, issue: IssueText, plan: Plan, files: RepoFiles) -> ChangeSet:
        user = prompts.executor_prompt(issue, plan.model_dump_json(indent=1), files)
        return await self._ask(prompts.EXECUTOR_SYSTEM, user, ChangeSet)


def _unfence(content: str) -> str:
    content = content.strip()
    match = _FENCE.match(content)
    return match.group(1) if match else content


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return first_error(exc, "answer")
    return f"not JSON ({exc})"
