"""Plan: QUEUED -> PLANNING -> PLAN_REVIEW, the plan posted in the one status comment."""

import pytest

from issuepilot.agents.base import IssueText, RepoFiles
from issuepilot.agents.budget import Budget, BudgetExceeded
from issuepilot.agents.tools import ToolBox
from issuepilot.config import RepoConfig
from issuepilot.errors import GitHubError, ModelError
from issuepilot.machine import TaskState
from issuepilot.models import Plan

from .harness import ScriptedAgent, Sim, plan_of

S = TaskState
BODY = "The greeting in `src/app.py` needs a `!`."
CONTEXT_READS = ("GET /git/trees/", "GET /contents/")


async def queued(sim: Sim, body: str = BODY) -> int:
    """An issue whose task is queued, its plan step dispatched but not yet run."""
    issue = sim.github.open_issue("Greet politely", body)
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    sim.github.dispatches.clear()
    return issue


async def test_plan_step_posts_the_plan_for_review(sim: Sim) -> None:
    issue = await queued(sim)
    outcome = await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert outcome.message == "plan v1 posted for review" and not outcome.automatic
    assert task.state is S.PLAN_REVIEW and task.plan == plan_of("src/app.py")
    assert (task.plan_hash, task.plan_version) == (plan_of("src/app.py").digest(), 1)
    assert [(v.version, v.digest) for v in task.plan_versions] == [(1, task.plan_hash)]
    assert task.approved_hash == "" and task.title == "Greet politely"
    assert (task.usage.model_calls, task.usage.tokens) == (1, 150)
    assert [h.state for h in task.history] == [S.QUEUED, S.PLANNING, S.PLAN_REVIEW]


async def test_plan_review_shows_one_state_label_and_one_status_comment(sim: Sim) -> None:
    issue = await queued(sim)
    await sim.run(sim.dispatch_event(issue))
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}
    [comment] = sim.status_comments(issue)
    assert "#### Plan v1" in comment and "`src/app.py` (modify)" in comment
    record = sim.shown_record(issue)
    assert record.state is S.PLAN_REVIEW and record.plan == plan_of("src/app.py")
    assert (await sim.task(issue)).comment_id in sim.github.comments


async def test_a_plan_waiting_for_review_dispatches_nothing(sim: Sim) -> None:
    issue = await queued(sim)
    await sim.run(sim.dispatch_event(issue))
    assert sim.github.dispatches == [] and sim.dispatched == []


async def test_plan_step_stays_within_five_calls_besides_context_reads(sim: Sim) -> None:
    issue = await queued(sim)
    since = sim.mark()
    await sim.run(sim.dispatch_event(issue))
    calls = [c for c in sim.calls(since) if not c.startswith(CONTEXT_READS)]
    assert sorted(calls) == sorted(
        [
            f"POST /issues/{issue}/comments",  # "the planner is at work"
            f"GET /issues/{issue}",  # the dispatch payload carries no issue
            f"POST /issues/{issue}/labels",
            f"DELETE /issues/{issue}/labels/issuepilot%3Aqueued",
            f"PATCH /issues/comments/{(await sim.task(issue)).comment_id}",
        ]
    )
    assert len(calls) <= 5


async def test_while_planning_the_issue_shows_queued_and_the_planner_at_work(sim: Sim) -> None:
    issue = await queued(sim)
    seen: list[tuple[set[str], TaskState]] = []

    async def watch(text: IssueText, context: RepoFiles) -> Plan:
        seen.append((sim.labels(issue), sim.shown_record(issue).state))
        return plan_of("src/app.py")

    sim.plans.append(watch)
    await sim.run(sim.dispatch_event(issue))
    assert seen == [({"issuepilot", "issuepilot:queued"}, S.PLANNING)]


async def test_the_planner_reads_the_issue_and_the_files_it_names(sim: Sim) -> None:
    issue = await queued(sim)
    await sim.run(sim.dispatch_event(issue))
    [(text, context)] = sim.planned
    assert (text.number, text.title, text.body, text.feedback) == (
        issue,
        "Greet politely",
        BODY,
        (),
    )
    assert context.files == {"src/app.py": sim.github.files_at("main")["src/app.py"]}
    assert set(context.tree) == {"README.md", "src/app.py", "src/util.py"}


async def test_a_run_checks_the_repository_labels_once(
    sim: Sim, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue = await queued(sim)
    reads: list[str] = []
    get_flag = sim.store.get_flag

    async def counted(key: str) -> str | None:
        reads.append(key)
        return await get_flag(key)

    monkeypatch.setattr(sim.store, "get_flag", counted)
    await sim.run(sim.dispatch_event(issue))  # publishes twice
    assert reads == ["issuepilot:{octo/app}:labels", "issuepilot:{octo/app}:record-key"]


async def test_a_plan_step_in_the_run_of_the_label_reads_the_issue_from_the_payload(
    sim: Sim,
) -> None:
    sim.max_steps = 2
    issue = sim.github.open_issue("Greet politely", BODY)
    since = sim.mark()
    await sim.run(sim.github.label_event(issue, "issuepilot"))
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert f"GET /issues/{issue}" not in sim.calls(since)
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}


async def test_a_plan_over_max_files_fails_the_task(sim: Sim) -> None:
    sim.config = RepoConfig(max_files=1)
    issue = await queued(sim)
    sim.plans.append(plan_of("src/app.py", "src/util.py"))
    with pytest.raises(ModelError, match=r"touches 2 files; the limit is 1 \(setting max-files\)"):
        await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.FAILED and task.plan is None and task.resting is S.QUEUED
    assert "the limit is 1" in task.error and task.usage.model_calls == 1
    assert sim.labels(issue) == {"issuepilot", "issuepilot:failed"}


async def test_a_plan_of_exactly_max_files_is_posted(sim: Sim) -> None:
    sim.config = RepoConfig(max_files=2)
    issue = await queued(sim)
    sim.plans.append(plan_of("src/app.py", "src/util.py"))
    await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).state is S.PLAN_REVIEW


async def test_a_planner_error_fails_the_task_and_retry_plans_again(sim: Sim) -> None:
    issue = await queued(sim)
    sim.plans.append(ModelError("the model endpoint answered 500"))
    with pytest.raises(ModelError):
        await sim.run(sim.dispatch_event(issue))
    failed = await sim.task(issue)
    assert failed.state is S.FAILED and failed.error == "the model endpoint answered 500"
    assert "the model endpoint answered 500" in sim.status_comments(issue)[0]
    await sim.run(sim.github.label_event(issue, "issuepilot:retry"))
    await sim.drain()
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.error == ""
    assert len(sim.status_comments(issue)) == 1
    assert sim.labels(issue) == {"issuepilot", "issuepilot:plan-review"}


async def test_a_spent_budget_stops_planning_before_the_model_is_called(sim: Sim) -> None:
    sim.config = RepoConfig(max_model_calls=1)
    issue = await queued(sim)
    await sim.run(sim.dispatch_event(issue))
    await sim.run(sim.github.comment_event(issue, "/issuepilot revise shorter"))
    with pytest.raises(BudgetExceeded, match="model calls"):
        await sim.drain()
    task = await sim.task(issue)
    assert task.state is S.FAILED and "budget for model calls is spent" in task.error
    assert task.usage.model_calls == 1, "the refused call was not counted"


async def test_a_github_error_while_planning_fails_the_task(sim: Sim) -> None:
    issue = await queued(sim)
    sim.github.fail("GET", r"/git/trees/", 502, times=4)
    with pytest.raises(GitHubError, match="502"):
        await sim.run(sim.dispatch_event(issue))
    task = await sim.task(issue)
    assert task.state is S.FAILED and "GitHub answered 502" in task.error
    assert sim.planned == [], "the planner is not asked without its context"


async def test_a_rate_limited_read_is_waited_for_and_planning_goes_on(sim: Sim) -> None:
    issue = await queued(sim)
    sim.github.rate_limit("GET", r"/git/trees/", retry_after=0)
    await sim.run(sim.dispatch_event(issue))
    assert (await sim.task(issue)).state is S.PLAN_REVIEW
    assert sim.calls().count("GET /git/trees/main") == 2


async def test_cancelling_while_the_planner_works_discards_the_plan(sim: Sim) -> None:
    issue = await queued(sim)
    cancels = []

    async def cancel_meanwhile(text: IssueText, context: RepoFiles) -> Plan:
        cancels.append(await sim.run(sim.github.comment_event(issue, "/issuepilot cancel")))
        return plan_of("src/app.py")

    sim.plans.append(cancel_meanwhile)
    outcome = await sim.run(sim.dispatch_event(issue))
    assert cancels[0].message == "task cancelled"
    assert outcome.task is None
    assert outcome.message == "the task moved on while planning (cancelled?): plan discarded"
    task = await sim.task(issue)
    assert task.state is S.CANCELLED and task.plan is None
    assert sim.labels(issue) == {"issuepilot", "issuepilot:cancelled"}
    assert sim.shown_record(issue).state is S.CANCELLED


async def test_a_plan_step_that_loses_the_claim_asks_no_planner(sim: Sim) -> None:
    issue = await queued(sim)
    sim.rival(issue, state=S.CANCELLED)
    since = sim.mark()
    outcome = await sim.run(sim.dispatch_event(issue))
    assert (outcome.task, outcome.message) == (None, "already advanced by another run")
    assert sim.planned == [] and sim.calls(since) == []


async def test_a_plan_step_that_loses_the_race_on_its_comment_id_stops(sim: Sim) -> None:
    issue = await queued(sim)
    sim.rival(issue, skip=1, state=S.CANCELLED)  # lands after the claim, before the comment id
    outcome = await sim.run(sim.dispatch_event(issue))
    assert (outcome.task, outcome.message) == (None, "already advanced by another run")
    assert sim.planned == [], "a superseded step goes no further"
    assert (await sim.task(issue)).state is S.CANCELLED
    assert not [s for s in sim.said if "could not record" in s], "nor is it taken for a failure"


async def test_a_revised_plan_is_a_new_version_planned_with_the_feedback(sim: Sim) -> None:
    issue = await queued(sim)
    await sim.run(sim.dispatch_event(issue))
    first = await sim.task(issue)
    sim.plans.append(plan_of("src/app.py", "src/util.py"))
    await sim.run(sim.github.comment_event(issue, "/issuepilot revise also fix util"))
    await sim.drain()
    task = await sim.task(issue)
    assert task.state is S.PLAN_REVIEW and task.plan_version == 2
    assert [v.version for v in task.plan_versions] == [1, 2]
    assert task.plan_hash != first.plan_hash and task.approved_hash == ""
    assert sim.planned[-1][0].feedback == ("also fix util",)
    [comment] = sim.status_comments(issue)
    assert "#### Plan v2" in comment and "approval applies to the latest only" in comment


class ListsFirst(ScriptedAgent):
    """The scripted planner, after one tool call (the step log names it)."""

    async def plan(self, issue: IssueText, context: RepoFiles, tools: ToolBox) -> Plan:
        await tools.call("list_files", '{"pattern": "*.py"}')
        return await super().plan(issue, context, tools)


@pytest.mark.parametrize("actions", [True, False])
async def test_the_planners_tool_calls_are_folded_in_the_step_log(sim: Sim, actions: bool) -> None:
    sim.runner_env = {"GITHUB_ACTIONS": "true"} if actions else {}
    sim.agent = lambda role, spent: ListsFirst(sim, Budget.of(sim.config, spent))  # type: ignore[method-assign]
    issue = sim.github.open_issue("Greet", "Change `src/app.py`.")
    sim.plans.append(ModelError("no plan"))
    with pytest.raises(ModelError):
        await sim.run(sim.dispatch_event(issue, command="plan"))
    [called] = [n for n, line in enumerate(sim.said) if line.startswith("list_files *.py -> ")]
    around = sim.said[called - 1 : called + 2]
    if actions:  # the fold ends even when the planner fails
        assert around == ["::group::The planner's tool calls", sim.said[called], "::endgroup::"]
    else:
        assert not any(line.startswith("::") for line in sim.said)
