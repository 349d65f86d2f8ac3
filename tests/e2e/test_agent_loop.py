"""The tool-using agent and the repository's checks, through the real CLI: the fake model
answers with tool calls, IssuePilot carries them out in the job's checkout and runs the
checks in the sandbox before the pull request opens."""

import json
from typing import Any

from issuepilot.testing.fake_llm import Answer, Calls, Messages, default_reply

from .harness import World
from .test_lifecycle import plan_and_approve, record

Turn = list[tuple[str, dict[str, Any]]]
OLD = 'return "Hello " + name'
# A check the repository configures: the greeting must end with "!".
GREETING = (
    "python3 -c \"import sys; sys.path.insert(0, 'src'); import app; "
    "assert app.greet('Ada') == 'Hello Ada!', app.greet('Ada')\""
)


def edit(old: str, new: str, path: str = "src/app.py") -> tuple[str, dict[str, Any]]:
    return "edit_file", {"path": path, "old_text": old, "new_text": new}


FINISH = ("finish", {"message": "Greet politely"})


def executor(*turns: Turn) -> Any:
    """A model that plans as the default does and executes turn by turn (the last turn
    repeats once the script is used up)."""

    def reply(messages: Messages, tools: list[str]) -> Answer:
        if "planner" in messages[0]["content"].lower() or not tools:
            return default_reply(messages, tools)
        done = sum(1 for m in messages if m["role"] == "assistant")
        return Calls(turns[min(done, len(turns) - 1)])

    return reply


def tool_answers(world: World) -> list[str]:
    """What the tools answered, over every request the executor sent."""
    last = world.model.requests[-1]["messages"]
    return [m["content"] for m in last if m["role"] == "tool"]


def head_file(world: World, pr: int, path: str = "src/app.py") -> str:
    gh = world.github
    return gh.files_at(gh.pulls[pr]["head"])[path]


def execute(world: World, config: str, *turns: Turn) -> tuple[int, Any]:
    world.checkout(config=config)
    world.model.reply = executor(*turns)
    issue = world.github.open_issue("Greet politely", "The greeting in `src/app.py` needs a `!`.")
    plan_and_approve(world, issue)
    [executed] = world.drain()
    return issue, executed


def test_plan_and_change_through_tools_with_a_passing_check(world: World) -> None:
    config = f"checks:\n  greeting: {json.dumps(GREETING)}\n"
    issue, executed = execute(
        world,
        config,
        [("search", {"pattern": "def greet", "path_glob": "src/*.py"})],
        [("read_file", {"path": "src/app.py", "start_line": 1, "end_line": 2})],
        [edit(OLD, OLD + ' + "!"')],
        [FINISH],
    )
    assert executed.code == 0, executed.stdout + executed.stderr
    pr = int(executed.outputs["pr-number"])
    assert head_file(world, pr) == 'def greet(name):\n    return "Hello " + name + "!"\n'
    pull = world.github.pulls[pr]
    assert pull["draft"] is False and "**greeting**: passed" in pull["body"]
    assert "**greeting**: passed" in world.comment(issue)
    # The planner had the read-only tools and submit_plan; the executor all but that.
    planner = {t["function"]["name"] for t in world.model.requests[0]["tools"]}
    assert planner == {"list_files", "read_file", "search", "submit_plan"}
    executor_tools = {t["function"]["name"] for t in world.model.requests[-1]["tools"]}
    assert "submit_plan" not in executor_tools and "edit_file" in executor_tools
    answers = tool_answers(world)
    assert answers[0].startswith("src/app.py:1: def greet(name):")
    assert answers[1].splitlines()[1] == f"    2      {OLD}"
    # The step log names each call on one line, folded; never the file's text.
    assert "::group::The agent's tool calls" in executed.stdout
    assert "edit_file src/app.py -> " in executed.stdout and "Hello" not in executed.stdout
    # The job summary has the table of what the agent did.
    assert (
        "| Role | Agent | Model calls | Tools used | Tokens | Cost | Checks |" in executed.summary
    )
    assert "edit_file 1, finish 1, read_file 1, search 1 |" in executed.summary
    assert "| greeting passed |" in executed.summary


def test_an_ambiguous_edit_is_corrected_by_the_model(world: World) -> None:
    world.github.seed({**world.github.files_at("main"), "src/app.py": 'A = "x"\nB = "x"\n'})
    issue, executed = execute(
        world,
        "",
        [edit('"x"', '"y"')],
        [edit('B = "x"', 'B = "y"')],
        [FINISH],
    )
    assert executed.code == 0, executed.stdout + executed.stderr
    first, second = tool_answers(world)[:2]
    assert first == (
        "error: old_text occurs 2 times in src/app.py (lines 1, 2): include more of the "
        "surrounding lines so it occurs once"
    )
    assert second == "edited src/app.py at line 2"
    assert head_file(world, int(executed.outputs["pr-number"])) == 'A = "x"\nB = "y"\n'


def test_an_edit_outside_the_plan_is_refused_and_then_done_right(world: World) -> None:
    issue, executed = execute(
        world,
        "",
        [("write_file", {"path": "src/util.py", "content": "X = 2\n"})],
        [edit(OLD, OLD + ' + "!"')],
        [FINISH],
    )
    assert executed.code == 0, executed.stdout + executed.stderr
    refused = tool_answers(world)[0]
    assert refused.startswith("error: ") and "outside the approved plan: src/util.py" in refused
    pr = int(executed.outputs["pr-number"])
    assert world.github.files_at(world.github.pulls[pr]["head"])["src/util.py"] == "X = 1\n"
    assert head_file(world, pr).endswith('name + "!"\n')


def test_a_failing_check_goes_back_to_the_agent_and_is_fixed_in_the_next_round(
    world: World,
) -> None:
    config = f"checks:\n  greeting: {json.dumps(GREETING)}\n"
    issue, executed = execute(
        world,
        config,
        [edit(OLD, OLD + ' + "?"')],
        [FINISH],  # round 1 ends; IssuePilot's check fails and its output comes back
        [edit('"?"', '"!"')],
        [FINISH],
    )
    assert executed.code == 0, executed.stdout + executed.stderr
    feedback = [
        m["content"]
        for m in world.model.requests[-1]["messages"]
        if m["role"] == "user" and "greeting" in m["content"]
    ]
    assert feedback and "AssertionError: Hello Ada?" in feedback[-1]
    assert "round 1: greeting failed" in executed.stdout
    assert "round 2: greeting passed" in executed.stdout
    pr = int(executed.outputs["pr-number"])
    assert world.github.pulls[pr]["draft"] is False
    assert head_file(world, pr).endswith('name + "!"\n')


def test_checks_still_failing_open_a_draft_with_the_failures(world: World) -> None:
    config = f"check-rounds: 1\nchecks:\n  greeting: {json.dumps(GREETING)}\n"
    issue, executed = execute(world, config, [edit(OLD, OLD + ' + "?"')], [FINISH])
    assert executed.code == 0, executed.stdout + executed.stderr
    assert "as a draft: its checks fail" in executed.stdout
    pull = world.github.pulls[int(executed.outputs["pr-number"])]
    assert pull["draft"] is True
    assert "**greeting**: failed" in pull["body"] and "AssertionError" in pull["body"]
    assert "**greeting**: failed" in world.comment(issue)
    assert "round 2: greeting failed" in executed.stdout


def test_checks_still_failing_with_on_check_failure_fail_fail_the_task(world: World) -> None:
    config = "check-rounds: 0\non-check-failure: fail\n"
    config += f"checks:\n  greeting: {json.dumps(GREETING)}\n"
    issue, executed = execute(world, config, [edit(OLD, OLD + ' + "?"')], [FINISH])
    assert executed.code == 1
    assert "the change still fails its checks: greeting failed" in executed.stdout
    assert record(world, issue)["state"] == "failed"
    assert world.github.pulls == {} and "heads/issuepilot/issue-1" not in world.github.refs


def test_an_endpoint_without_tools_falls_back_to_one_answer(world: World) -> None:
    world.model.no_tools = True
    issue = world.github.open_issue("Greet politely", "Change `src/app.py`.")
    plan_and_approve(world, issue)
    [executed] = world.drain()
    assert executed.code == 0, executed.stdout + executed.stderr
    assert head_file(world, int(executed.outputs["pr-number"])).endswith("Updated by IssuePilot.\n")
    assert "does not take tools: the planner answered in one JSON reply" in world.comment(issue)
    with_tools = [r for r in world.model.requests if r.get("tools")]
    # Each role tried the tools once, then answered in one reply.
    assert len(with_tools) == 2 and len(world.model.requests) == 4


def test_the_turn_cap_ends_the_role_with_the_work_so_far(world: World) -> None:
    issue, executed = execute(
        world,
        "max-agent-turns: 3\n",
        [edit(OLD, OLD + ' + "!"')],
        [("read_file", {"path": "src/app.py"})],  # and again, never finishing
    )
    assert executed.code == 0, executed.stdout + executed.stderr
    assert head_file(world, int(executed.outputs["pr-number"])).endswith('name + "!"\n')
    executor_calls = [r for r in world.model.requests if "submit_plan" not in str(r["tools"])]
    assert len(executor_calls) == 3
    assert "the executor stopped at its cap (max-agent-turns 3" in world.comment(issue)


def test_a_check_that_hangs_is_killed(world: World) -> None:
    config = "check-rounds: 0\ncheck-timeout-minutes: 0.02\nchecks:\n  hangs: sleep 600 & wait\n"
    issue, executed = execute(world, config, [edit(OLD, OLD + ' + "!"')], [FINISH])
    assert executed.code == 0, executed.stdout + executed.stderr
    pull = world.github.pulls[int(executed.outputs["pr-number"])]
    assert pull["draft"] is True and "**hangs**: timed out" in pull["body"]
    assert "[killed after 0.02 minutes]" in pull["body"]


def test_the_checks_environment_holds_no_credential(world: World) -> None:
    # The check fails if it finds any of the job's credentials: in its environment, in the
    # checkout's git config (actions/checkout's persisted credential), or in IssuePilot's.
    probe = (
        'python3 -c "import os, pathlib, sys; '
        "env = ' '.join(os.environ.values()); "
        "git = pathlib.Path('.git/config').read_text(); "
        "bad = [s for s in ('ghs_fake', 'fake-model-key', 'redis://', 'c2VjcmV0') "
        'if s in env or s in git]; print(bad); sys.exit(1 if bad else 0)"'
    )
    config = f"check-rounds: 0\nchecks:\n  probe: {json.dumps(probe)}\n"
    issue, executed = execute(world, config, [edit(OLD, OLD + ' + "!"')], [FINISH])
    assert executed.code == 0, executed.stdout + executed.stderr
    pull = world.github.pulls[int(executed.outputs["pr-number"])]
    assert "**probe**: passed" in pull["body"], pull["body"]


def test_what_the_checks_leave_behind_never_joins_the_change(world: World) -> None:
    # No .gitignore: bytecode, a build folder, a coverage file and a formatter's rewrite of
    # a file outside the plan, all left by the check, would be part of a naive change.
    # The first round fails its check, so the change is read again after the litter.
    litter = (
        "mkdir -p build && echo x > build/out.o && echo x > .coverage "
        f"&& echo '# reformatted' >> README.md && {GREETING}"
    )
    config = f"checks:\n  litter: {json.dumps(litter)}\n"
    turns = [edit(OLD, OLD + ' + "?"')], [FINISH], [edit('"?"', '"!"')], [FINISH]
    issue, executed = execute(world, config, *turns)
    assert executed.code == 0, executed.stdout + executed.stderr
    gh = world.github
    pull = gh.pulls[int(executed.outputs["pr-number"])]
    assert "**litter**: passed" in pull["body"]
    changed = {
        path: text
        for path, text in gh.files_at(pull["head"]).items()
        if gh.files_at("main").get(path) != text
    }
    assert changed == {"src/app.py": 'def greet(name):\n    return "Hello " + name + "!"\n'}
