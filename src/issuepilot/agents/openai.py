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
from .budget import Budget, BudgetExceeded
from .tools import ToolBox

T = TypeVar("T", bound=BaseModel)
_FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


def preload() -> None:
    """Import the SDK on a thread, so its cost overlaps the step's first network round trips
    (imports run while the main thread waits on sockets)."""
    threading.Thread(target=importlib.import_module, args=("openai",), daemon=True).start()


MODEL_ACCESS = (
    " (GitHub Models needs `models: read` in the job's permissions; any other endpoint needs "
    "its key in the model-api-key input)"
)


class ToolsUnsupported(ModelError):
    """The endpoint refused function calling: this role falls back to one JSON answer."""


class OpenAIAgent:
    """Both roles, on one endpoint: a loop of tool calls (`mode` tools), or one JSON answer
    per role (single-call, or where the endpoint rejects `tools`: a notice says so). A
    malformed JSON answer is sent back once with the error."""

    def __init__(
        self,
        model: str,
        base_url: str,
        api_key: str,
        timeout_s: float = 120,
        attempts: int = 2,
        budget: Budget | None = None,
        mode: str = "auto",
        max_turns: int = 40,
    ) -> None:
        self.model = model
        self.base_url = base_url
        self.api_key = api_key
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.budget = budget or Budget()
        self.mode = mode  # auto (tools, falling back), tools, single-call
        self.max_turns = max_turns
        self.notices: list[str] = []
        self.label = f"the built-in agent ({model})"
        self.message = ""
        self.turns = 0  # model calls of the tool loop, for the job summary
        self.capped = False  # the last loop ended at its turn or budget cap
        self.model_seconds = 0.0  # time spent waiting on the endpoint
        self._client: Any = None
        self._conversation: list[Any] = []  # the executor's, kept across check rounds

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

    async def _chat(self, messages: list[Any], tools: list[Any] | None = None) -> Any:
        """One chat completion, counted against the budget; the reply's message."""
        import openai

        self.budget.check()
        started = time.monotonic()
        extra = {"tools": tools, "tool_choice": "auto"} if tools else {}
        try:
            reply = await self._sdk().chat.completions.create(
                model=self.model, messages=messages, temperature=0, **extra
            )
        except openai.APIStatusError as exc:
            if tools and exc.status_code in (400, 404, 422) and "tool" in exc.message.lower():
                raise ToolsUnsupported(f"the endpoint refused tools: {exc.message}") from None
            hint = MODEL_ACCESS if exc.status_code in (401, 403) else ""
            raise ModelError(
                f"the model endpoint answered {exc.status_code}: {exc.message}{hint}"
            ) from None
        except openai.APIError as exc:
            raise ModelError(f"the model endpoint failed: {exc}") from None
        finally:
            spent = time.monotonic() - started
            self.budget.seconds += spent
            self.model_seconds += spent
        self.budget.calls += 1
        if reply.usage is not None:
            self.budget.tokens += reply.usage.total_tokens or 0
            # Some endpoints (OpenRouter, LiteLLM) report the cost of the call.
            self.budget.cost += float(getattr(reply.usage, "cost", None) or 0)
        if not reply.choices:
            raise ModelError("the model endpoint answered with no choices")
        return reply.choices[0].message

    async def _ask(self, system: str, user: str, schema: type[T]) -> T:
        messages: list[Any] = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        error = ""
        for _ in range(self.attempts):
            content = str((await self._chat(messages)).content or "")
            try:
                return schema.model_validate(json.loads(_unfence(content)))
            except (ValueError, ValidationError) as exc:
                error = _describe(exc)
            messages += [
                {"role": "assistant", "content": content},
                {"role": "user", "content": prompts.RETRY.format(error=error)},
            ]
        raise ModelError(f"the model kept answering with an invalid {schema.__name__}: {error}")

    async def _loop(self, messages: list[Any], tools: ToolBox) -> None:
        """Let the model call tools until its role's last tool, or a cap: the turn cap or
        the budget end the role with the work so far (every edit is whole)."""
        self.capped = False
        for _ in range(self.max_turns):
            try:
                message = await self._chat(messages, tools.schemas())
            except BudgetExceeded:
                if not self.turns:
                    raise
                self.capped = True
                return
            self.turns += 1
            calls = list(message.tool_calls or [])
            messages.append(_assistant(message, calls))
            if not calls:
                messages.append({"role": "user", "content": prompts.USE_TOOLS})
                continue
            for call in calls:
                answer = await tools.call(call.function.name, call.function.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": answer})
            if tools.done:
                return
        self.capped = True

    def _tools_first(self) -> bool:
        return self.mode != "single-call"

    def _fall_back(self, role: str, why: ToolsUnsupported) -> None:
        if self.mode == "tools":
            raise ModelError(f"{why} (agent-mode: tools)")
        notice = (
            f"the model endpoint does not take tools: the {role} answered in one JSON reply "
            "(set agent-mode: single-call to skip the attempt)"
        )
        self._notice(notice)
        self.mode = "single-call"

    def _notice(self, notice: str) -> None:
        if notice not in self.notices:
            self.notices.append(notice)

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        if self._tools_first():
            messages: list[Any] = [
                {"role": "system", "content": prompts.PLANNER_TOOLS},
                {"role": "user", "content": prompts.planner_tools_prompt(issue, context)},
            ]
            try:
                await self._loop(messages, tools)
            except ToolsUnsupported as why:
                self._fall_back("planner", why)
            else:
                if tools.plan is None:
                    raise ModelError(
                        f"the planner submitted no plan within {self.max_turns} turns "
                        "(setting max-agent-turns)"
                    )
                return tools.plan
        return await self._ask(prompts.PLANNER_SYSTEM, prompts.planner_prompt(issue, context), Plan)

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        if self._tools_first():
            if not self._conversation:
                plan_json = plan.model_dump_json(indent=1)
                self._conversation = [
                    {"role": "system", "content": prompts.EXECUTOR_TOOLS},
                    {"role": "user", "content": prompts.executor_tools_prompt(issue, plan_json)},
                ]
            if feedback:
                tools.message = None
                self._conversation.append({"role": "user", "content": feedback})
            try:
                await self._loop(self._conversation, tools)
            except ToolsUnsupported as why:
                self._conversation = []
                self._fall_back("executor", why)
            else:
                if self.capped and tools.message is None:
                    self._notice(
                        f"the executor stopped at its cap (max-agent-turns {self.max_turns}, or "
                        "the budget) before it finished: its work so far was checked and kept"
                    )
                return tools.message or ""
        files = await _planned_files(tools, plan)
        user = prompts.executor_prompt(issue, plan.model_dump_json(indent=1), files)
        if feedback:
            user += "\n\n" + feedback
        changes = await self._ask(prompts.EXECUTOR_SYSTEM, user, ChangeSet)
        for change in changes.files:
            refused = await tools.write(change.path, change.content)
            if refused:
                raise ModelError(f"the change may not be written: {refused}")
        return changes.message


async def _planned_files(tools: ToolBox, plan: Plan) -> RepoFiles:
    texts = {path: await tools.workspace.read(path) for path in plan.paths}
    return RepoFiles(texts)


def _assistant(message: Any, calls: list[Any]) -> dict[str, Any]:
    """The model's turn, as it goes back into the conversation."""
    turn: dict[str, Any] = {"role": "assistant", "content": message.content or ""}
    if calls:
        turn["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in calls
        ]
    return turn


def _unfence(content: str) -> str:
    content = content.strip()
    match = _FENCE.match(content)
    return match.group(1) if match else content


def _describe(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return first_error(exc, "answer")
    return f"not JSON ({exc})"
