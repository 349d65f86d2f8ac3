"""Text IssuePilot did not write reaches the step log: a tool call's name, path or pattern
from the model, a workflow's, a check's or a label's name, a command's words, an issue's
title, an error. The Actions runner obeys the workflow commands it reads there: outputs
and environment set, log parts masked, annotations forged, command processing stopped.
None of that text becomes a command: every printed line goes through `untrusted.logged`,
and IssuePilot's own commands escape their data. Every action is pinned by commit SHA, so
no tag can be moved under the workflow.
https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands"""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.budget import Budget
from issuepilot.agents.tools import ROLE_TOOLS, ToolBox
from issuepilot.cli import build_parser, cmd_explain, mask, report_error
from issuepilot.config import RepoConfig
from issuepilot.github.untrusted import logged
from issuepilot.models import Plan, Usage
from issuepilot.testing.fake_llm import Answer, Calls, Messages, default_reply

from ..e2e.harness import World
from ..e2e.test_cli import cli
from ..steps.harness import FILES, Sim, plan_of

ROOT = Path(__file__).parents[2]
FILES_PINNED = [ROOT / "action.yml", *sorted((ROOT / ".github" / "workflows").glob("*.yml"))]
# Every form GitHub documents, and the older `##[...]` ones the runner still reads; each
# names `pwned` where the runner would keep it.
FORMS = [
    "::set-output name=pwned::1",
    "::add-mask::pwned",
    "::stop-commands::pwned",
    "::pwned::",  # resumes what `::stop-commands::pwned` stopped
    "::error file=pwned.py,line=1,col=2,endColumn=3,title=pwned::forged",
    "::warning file=pwned.py,line=1::pwned",
    "::notice title=pwned::pwned",
    "::debug::pwned",
    "::group::pwned",
    "::endgroup::pwned",
    "::save-state name=pwned::1",
    "::add-path::/pwned",
    "::set-env name=PWNED::1",
    "::echo::on pwned",
    "##[set-output name=pwned;]1",
    "##[add-mask]pwned",
    "##[set-env name=PWNED;]1",
    "##[add-path]/pwned",
    "##[error]pwned",
    "##[warning]pwned",
    "##[debug]pwned",
    "##[group]pwned",
    "##[endgroup]pwned",
    "##[section]pwned",
    "##[command]pwned",
]
# What may come before a form: line breaks (as the runner cuts lines), whitespace the
# runner trims off a line's start, and plain text (the older form counts anywhere).
BEFORE = ["\n", "\r", "\r\n", "\u2028", "\x85", " ", "\t", "\u00a0", "\x0b", "\x0c", "x ", ""]
# What .NET's String.TrimStart removes (Char.IsWhiteSpace), beside Python's own whitespace.
DOTNET_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
DOTNET_SPACE += "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
HOSTILE = "".join(before + form for form in FORMS for before in BEFORE)
# The commands IssuePilot writes itself.
OURS = re.compile(r"::(group::The .*|endgroup::|error title=IssuePilot::.*)")


def commands(output: str) -> list[str]:
    """The lines of `output` the Actions runner takes for workflow commands: it cuts lines
    at CR and LF, reads `::name ...::` from a line's start after trimming whitespace, and
    `##[name ...]` anywhere in a line (ActionCommand.TryParseV2 and TryParse)."""
    found = []
    for line in re.split(r"\r\n|\r|\n", output):
        start = line.lstrip().lstrip(DOTNET_SPACE)
        v2 = start.startswith("::") and "::" in start[2:]
        older = "##[" in line and "]" in line[line.index("##[") :]
        if v2 or older:
            found.append(line)
    return found


def forged(output: str) -> list[str]:
    """The commands in `output` that IssuePilot did not write."""
    return [line for line in commands(output) if not OURS.fullmatch(line.lstrip())]


def test_the_runners_reading_finds_every_form() -> None:
    """The check below would see each form wherever the runner would, were it printed raw:
    the older form anywhere, the other after nothing but whitespace on its line."""
    for form in FORMS:
        for before in BEFORE:
            read = form.startswith("##[") or before != "x "
            assert bool(forged(before + form)) is read, repr(before + form)


@pytest.mark.parametrize("form", FORMS)
def test_no_form_becomes_a_command_wherever_it_stands(form: str) -> None:
    for before in BEFORE:
        for text in (before + form, f"#12: {before}{form} done", f"{form}{before}{form}"):
            shown = logged(text)
            assert forged(shown) == [], repr(text)
            assert "pwned" in shown.lower(), "the text is still shown"


def test_a_json_line_stays_the_same_json() -> None:
    value = {"reason": HOSTILE, "path": "a\\##[b"}
    line = logged(json.dumps(value))
    assert forged(line) == [] and json.loads(line) == value


def test_an_error_cannot_start_another_workflow_command(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    report_error("bad plan %0A\r\n::add-mask::x\n::error::owned 100%" + HOSTILE)
    mask("line1\nline%2")
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].startswith("::error title=IssuePilot::") and "%25" in lines[0]
    assert forged(lines[0]) == [] and commands(out) == lines and len(lines) == 3
    assert lines[1:] == ["::add-mask::line1", "::add-mask::line%252"]


def test_outside_actions_an_error_is_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    report_error("failed: " + HOSTILE)
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and forged(err) == []


# -- the tool calls of both roles -----------------------------------------------------


def hostile_calls(role: str) -> list[tuple[str, dict[str, Any]]]:
    """Every printed field of a tool call, with every form in every place: the tool's
    name, its path, pattern, glob and check name."""
    calls: list[tuple[str, dict[str, Any]]] = []
    for form in FORMS:
        for before in BEFORE:
            text = before + form
            calls.append((text, {}))  # a tool the model made up
            calls += [("list_files", {"pattern": text}), ("read_file", {"path": text})]
            calls += [("search", {"pattern": text}), ("search", {"pattern": 1, "path_glob": text})]
            if role == "execute":
                calls += [("write_file", {"path": text, "content": "x"})]
                calls += [("run_check", {"name": text})]
    assert {name for name, _ in calls} >= set(ROLE_TOOLS[role]) - {"submit_plan", "finish"} - (
        {"edit_file", "delete_file"}
    )
    return calls


class HostileAgent:
    """Both roles: first every hostile tool call through the real tools, then the usual
    answer (a plan of `src/app.py`; a line appended to it)."""

    label, message = "a hostile model", ""

    def __init__(self, role: str, spent: Usage) -> None:
        self.budget, self.notices = Budget.of(RepoConfig(), spent), list[str]()

    async def _call_all(self, tools: ToolBox, role: str) -> None:
        for name, args in hostile_calls(role):
            await tools.call(name, json.dumps(args))

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        await self._call_all(tools, "plan")
        return plan_of("src/app.py")

    async def execute(
        self, issue: IssueText, plan: Plan, tools: ToolBox, feedback: str = ""
    ) -> str:
        await self._call_all(tools, "execute")
        refused = await tools.write("src/app.py", FILES["src/app.py"] + "# more\n")
        assert refused is None
        return "Change it"

    async def aclose(self) -> None:
        pass


async def test_no_tool_call_of_the_planner_or_the_executor_prints_a_command(sim: Sim) -> None:
    sim.runner_env = {"GITHUB_ACTIONS": "true"}
    sim.agent = HostileAgent  # type: ignore[assignment,method-assign]
    issue = sim.github.open_issue("Greet", "Change `src/app.py`.")
    await sim.to_pr_open(issue)
    out = "\n".join(sim.said)
    assert out.count("pwned") > 2 * len(FORMS) * len(BEFORE), "the calls were printed"
    assert forged(out) == []
    assert "::group::The planner's tool calls" in sim.said
    assert "::group::The agent's tool calls" in sim.said


# -- the whole step, as the runner reads its output ------------------------------------


PATH = "docs/##[set-output name=pwned;]1 ::add-mask::pwned.md"  # a valid repository path


def plans_a_hostile_path(messages: Messages, tools: list[str]) -> Answer:
    """The fake model, except that the planner's plan names `PATH` too."""
    answer = default_reply(messages, tools)
    if isinstance(answer, Calls) and answer.calls[0][0] == "submit_plan":
        plan = answer.calls[0][1]
        plan["files"].append({"path": PATH, "action": "create", "why": "docs"})
    return answer


def test_what_events_and_models_carry_prints_no_command(world: World) -> None:
    """A workflow's and a check's name, a label, a command's words, an issue's title, a
    planned path: into the reason, the history, the tool calls, the outcome, and the
    output of `issuepilot status`."""
    gh = world.github
    world.model.reply = plans_a_hostile_path
    title = "Greet ##[set-output name=pwned;]1 ::add-mask::pwned"  # titles hold no newlines
    issue = gh.open_issue(title, "Change `src/app.py`.")
    outputs = [world.step(gh.label_event(issue, "issuepilot")).stdout]
    outputs += [r.stdout for r in world.drain()]
    for word in (HOSTILE, "##[add-mask]pwned"):  # "Not approved: `<word>` is not ..."
        outputs.append(world.step(gh.comment_event(issue, f"/issuepilot approve {word}")).stdout)
    outputs.append(world.step(gh.label_event(issue, HOSTILE[:50])).stdout)
    world.step(gh.label_event(issue, "issuepilot:approved"))
    [executed] = world.drain()
    assert executed.code == 0, executed.stdout + executed.stderr
    outputs.append(executed.stdout)
    pr = int(executed.outputs["pr-number"])
    outputs.append(world.step(gh.workflow_run_event(pr, name=HOSTILE)).stdout)
    outputs.append(world.step(gh.check_run_event(pr, name=HOSTILE)).stdout)
    env = {"GITHUB_REPOSITORY": gh.repo, "GITHUB_TOKEN": "ghs_fake", "GITHUB_API_URL": gh.url}
    if world.redis_url:
        env["ISSUEPILOT_REDIS_URL"] = world.redis_url
    listed = cli("status", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    assert PATH in json.loads(listed.stdout)[0]["held"], "the JSON reads back unchanged"
    outputs += [listed.stdout, cli("status", env=env).stdout]
    everything = "\n".join(outputs)
    assert everything.count("pwned") > len(FORMS), "the hostile text was printed"
    assert forged(everything) == []


def test_explain_prints_no_command_and_the_same_decision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    event = tmp_path / "event.json"
    run = {"id": 7, "name": HOSTILE, "head_branch": "issuepilot/issue-3", "conclusion": "failure"}
    event.write_text(json.dumps({"action": "completed", "workflow_run": run}))
    args = build_parser().parse_args(
        ["explain", "--event-name", "workflow_run", "--event-path", str(event)]
    )
    assert cmd_explain(args) == 0
    out = capsys.readouterr().out
    assert forged(out) == [] and repr(HOSTILE) in json.loads(out)["reason"]


OWN = "issuepilot/issuepilot"


@pytest.mark.parametrize("path", FILES_PINNED, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha(path: Path) -> None:
    for line in path.read_text().splitlines():
        if match := re.search(r"uses:\s*([^\s#]+)", line):
            used = match.group(1)
            if used.startswith("./"):
                continue
            if used.startswith(f"{OWN}/") or used.startswith(f"{OWN}@"):
                # IssuePilot's own release, by its tag: what the workflow a user copies
                # names (docs/releasing.md), and what that release's reusable workflow runs.
                assert re.fullmatch(rf"{OWN}(/[\w./-]+)?@v\d+(\.\d+\.\d+)?", used), used
                continue
            assert re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", used), f"{path.name}: {used}"
            assert re.search(r"#\s*v\d", line), f"{path.name}: {used} names no version"
