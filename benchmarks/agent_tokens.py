"""What the built-in agent's model reads and writes: the tool loop against whole-file answers.

Two changes, each made twice by the real `OpenAIAgent` against the scripted model over
loopback HTTP (no network): once through the tools (search, read a range, edit in place,
finish) and once as one JSON answer holding every planned file whole (`single-call`).
Tokens are counted as characters / 4: "sent" is every request's messages and tool
schemas, "written" is what the model must produce (its text and its tool-call arguments).
IssuePilot's overhead per turn is the loop's wall time minus the time spent waiting on the
model endpoint, divided by the turns (median of `--rounds` runs), with the change made in
a real git checkout.

Targets: the tool loop writes at most 5% of the whole-file output for the 3-line fix;
overhead under 20 ms per turn.

    python benchmarks/agent_tokens.py [--rounds 5]
"""

import argparse
import asyncio
import json
import re
import statistics
import subprocess
import time
from dataclasses import dataclass
from typing import Any

from issuepilot.agents.base import IssueText
from issuepilot.agents.openai import OpenAIAgent
from issuepilot.agents.tools import ToolBox
from issuepilot.demo import checkout
from issuepilot.models import Plan, PlannedFile
from issuepilot.testing.fake_llm import FILE_BLOCK, Answer, Calls, FakeLLM, Messages
from issuepilot.workspace import CheckoutWorkspace

Turn = list[tuple[str, dict[str, Any]]]


def module(name: str, lines: int) -> str:
    """A plausible Python file of `lines` lines."""
    out = [f'"""The {name} module."""', ""]
    n = 0
    while len(out) < lines - 3:
        n += 1
        out += [f"def {name}_{n}(value):", f"    return value * {n} + {n % 7}", ""]
    return "\n".join(out[: lines - 1]) + "\n"


@dataclass
class Case:
    name: str
    files: dict[str, str]
    # path -> (old, new): the edits the change makes
    edits: dict[str, tuple[str, str]]

    @property
    def plan(self) -> Plan:
        return Plan(summary=self.name, files=[PlannedFile(path=p) for p in self.edits])

    def after(self) -> dict[str, str]:
        return {p: self.files[p].replace(old, new, 1) for p, (old, new) in self.edits.items()}

    def turns(self) -> list[Turn]:
        """The tool loop: find each spot, read around it, edit it; then finish."""
        paths = list(self.edits)
        first = next(iter(self.edits.values()))[0].splitlines()[0]
        turns: list[Turn] = [[("search", {"pattern": re.escape(first), "path_glob": "src/*.py"})]]
        turns.append([("read_file", {"path": p, "start_line": 1, "end_line": 30}) for p in paths])
        turns.append(
            [
                ("edit_file", {"path": p, "old_text": old, "new_text": new})
                for p, (old, new) in self.edits.items()
            ]
        )
        turns.append([("finish", {"message": self.name})])
        return turns


def cases() -> list[Case]:
    big = module("big", 2000)
    fix = (
        "def big_1000(value):\n    return value * 1000 + 6\n",
        "def big_1000(value):\n    if value is None:\n        return 0\n"
        "    return value * 1000 + 6\n",
    )
    small = {f"src/part{i}.py": module(f"part{i}", 200) for i in range(5)}
    feature = {
        path: (
            text.splitlines(keepends=True)[0],
            text.splitlines(keepends=True)[0]
            + "\n\ndef feature(value):\n"
            + "".join(f"    value = value + {k}  # step {k}\n" for k in range(8))
            + "    return value\n",
        )
        for path, text in small.items()
    }
    return [
        Case("a 3-line fix in a 2,000-line file", {"src/big.py": big}, {"src/big.py": fix}),
        Case("a 5-file feature", small, feature),
    ]


def scripted(case: Case) -> Any:
    turns = case.turns()

    def reply(messages: Messages, tools: list[str]) -> Answer:
        if not tools:  # whole-file answer: every planned file, changed, in full
            after = case.after()
            files = [
                {"path": path, "content": after[path]}
                for path, _ in FILE_BLOCK.findall(messages[-1]["content"])
            ]
            return json.dumps({"files": files, "message": case.name})
        done = sum(1 for m in messages if m["role"] == "assistant")
        return Calls(turns[min(done, len(turns) - 1)])

    return reply


def tokens_sent(requests: list[dict[str, Any]]) -> int:
    return sum(len(json.dumps([r["messages"], r.get("tools", [])])) for r in requests) // 4


def tokens_written(requests: list[dict[str, Any]]) -> int:
    """What the model wrote: every assistant turn appears in the next request, and the last
    one's answer is rebuilt from the script."""
    written = 0
    last = requests[-1]["messages"]
    for message in last:
        if message["role"] != "assistant":
            continue
        written += len(message.get("content") or "")
        for call in message.get("tool_calls") or []:
            written += len(call["function"]["arguments"])
    return written // 4


async def run(case: Case, mode: str) -> tuple[list[dict[str, Any]], str, float, int, float]:
    """One execution: (requests, final answer, wall s, turns, model s)."""
    with FakeLLM(reply=scripted(case)) as model:
        agent = OpenAIAgent("bench", model.url, "key", timeout_s=30, mode=mode)
        root = checkout(case.files)
        assert root is not None, "the benchmark needs git"
        tools = ToolBox(CheckoutWorkspace(root), "execute")
        issue = IssueText(1, case.name, "")
        started = time.perf_counter()
        await agent.execute(issue, case.plan, tools)
        wall = time.perf_counter() - started
        await agent.aclose()
        for path, text in case.after().items():
            assert (root / path).read_text() == text, f"{mode}: {path} is not as expected"
        subprocess.run(["rm", "-rf", str(root)], check=True)
        final = ""
        if mode == "single-call":
            final = str(scripted(case)(model.requests[-1]["messages"], []))
        return model.requests, final, wall, max(agent.turns, 1), agent.model_seconds


async def main(rounds: int) -> None:
    print(
        f"{'change':36} {'mode':12} {'sent':>8} {'written':>8} {'turns':>6} {'overhead/turn':>14}"
    )
    for case in cases():
        written: dict[str, int] = {}
        for mode in ("tools", "single-call"):
            overheads: list[float] = []
            for _ in range(rounds):
                requests, final, wall, turns, model_s = await run(case, mode)
                overheads.append((wall - model_s) / turns)
            out = tokens_written(requests) + len(final) // 4
            written[mode] = out
            ms = statistics.median(overheads) * 1000
            sent = tokens_sent(requests)
            print(f"{case.name:36} {mode:12} {sent:>8,} {out:>8,} {turns:>6} {ms:>11.1f} ms")
        ratio = written["tools"] / written["single-call"]
        print(f"{'':36} tools write {ratio:.1%} of the whole-file output")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
