"""The GitHub store under the conditions the contract tests do not make: several runs
(each with its own view of the ledger) racing, replies lost after the ledger moved, the
table as a file."""

import asyncio
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from issuepilot.github.client import GitHub
from issuepilot.github.retry import RetryPolicy
from issuepilot.github.status import Seal
from issuepilot.ledger import BRANCH, FILE, Ledger, LedgerLocks, LedgerStore
from issuepilot.locks import LockConflict
from issuepilot.machine import TaskState
from issuepilot.models import Task
from issuepilot.table import Table
from issuepilot.testing.github import FakeGitHub

CLIENTS: list[GitHub] = []


@pytest.fixture
async def github(repo: str) -> AsyncIterator[FakeGitHub]:
    with FakeGitHub(repo, files={"README.md": "x\n"}) as fake:
        yield fake
        while CLIENTS:
            await CLIENTS.pop().aclose()


def run(github: FakeGitHub) -> GitHub:
    """One run's client: each run of the action has its own, and its own ledger view."""
    client = GitHub(github.repo, "ghs_fake", github.url, retry=RetryPolicy(base_s=0.01))
    CLIENTS.append(client)
    return client


async def test_ten_runs_competing_for_overlapping_files_never_share_one(
    github: FakeGitHub,
) -> None:
    clients = [run(github) for _ in range(10)]
    ledgers = [Ledger(gh) for gh in clients]
    wants = [[f"f{i}.py", f"f{(i + 1) % 10}.py"] for i in range(10)]

    async def one(i: int) -> bool:
        try:
            await LedgerLocks(ledgers[i]).acquire(str(i + 1), wants[i], ttl_s=600)
        except LockConflict:
            return False
        return True

    won = await asyncio.gather(*(one(i) for i in range(10)))
    holders = await LedgerLocks(Ledger(run(github))).holders([f"f{i}.py" for i in range(10)])
    for i, got in enumerate(won):  # a winner holds both of its files; a loser neither
        mine = [holders.get(p) == str(i + 1) for p in wants[i]]
        assert all(mine) if got else not any(mine)
    assert 1 <= sum(won) <= 5
    assert sum(ledger.retries for ledger in ledgers) > 0  # they did race


async def test_twenty_runs_committing_one_task_make_one_write(github: FakeGitHub) -> None:
    first = Ledger(run(github))
    base = await LedgerStore(first).commit(Task(issue=7, state=TaskState.QUEUED))
    assert base is not None
    clients = [run(github) for _ in range(20)]
    moved = base.model_copy(update={"state": TaskState.PLANNING})
    done = await asyncio.gather(*(LedgerStore(Ledger(gh)).commit(moved) for gh in clients))
    assert sum(r is not None for r in done) == 1
    stored = await LedgerStore(Ledger(run(github))).load(7)
    assert stored is not None and stored.version == 2 and stored.state is TaskState.PLANNING


async def test_a_ledger_update_whose_reply_was_lost_is_not_made_twice(
    github: FakeGitHub,
) -> None:
    ledger = Ledger(run(github))
    store = LedgerStore(ledger)
    queued = await store.commit(Task(issue=3, state=TaskState.QUEUED))
    assert queued is not None
    github.lose_reply("PUT", rf"/contents/{FILE}$")
    planning = await store.commit(queued.model_copy(update={"state": TaskState.PLANNING}))
    assert planning is not None and planning.version == 2
    fresh = await LedgerStore(Ledger(run(github))).load(3)
    assert fresh is not None and (fresh.version, fresh.state) == (2, TaskState.PLANNING)


async def test_the_ledger_only_moves_forward(github: FakeGitHub) -> None:
    ledger = Ledger(run(github))
    store = LedgerStore(ledger)
    heads = []
    task = await store.commit(Task(issue=1, state=TaskState.QUEUED))
    for state in (TaskState.PLANNING, TaskState.PLAN_REVIEW):
        heads.append(github.refs[f"heads/{BRANCH}"])
        assert task is not None
        task = await store.commit(task.model_copy(update={"state": state}))
    head = github.refs[f"heads/{BRANCH}"]
    assert all(earlier in github.ancestors(head) for earlier in heads)
    # An orphan holding only the ledger: no workflow file, so no push to it runs one.
    assert set(github.files_at(BRANCH)) == {FILE}
    assert github.refs["heads/main"] not in github.ancestors(head)


def test_the_table_survives_its_file() -> None:
    table = Table()
    assert table.commit(Task(issue=4, state=TaskState.QUEUED), now=10.0) is not None
    table.set_flag("k", "v", 60, now=10.0)
    lease = table.acquire("4", ["a.py"], 30, None, now=10.0)
    with pytest.raises(LockConflict):
        table.acquire("5", ["a.py", "b.py"], 30, None, now=11.0)
    again = Table.from_json(table.to_json())
    assert again.to_json() == table.to_json()
    assert again.holders(["a.py"], now=12.0) == {"a.py": "4"}
    assert again.release(lease, now=13.0).ready == ["5"]
    loaded = again.load(4)
    assert loaded is not None and loaded.version == 1


def signed_table() -> Table:
    table = Table()
    task = table.commit(Task(issue=4, state=TaskState.PLAN_REVIEW), now=10.0)
    assert task is not None
    table.set_flag("perm:octocat", "write", 60, now=10.0)
    table.acquire("4", ["a.py"], 30, None, now=10.0)
    with pytest.raises(LockConflict):
        table.acquire("5", ["a.py"], 30, None, now=11.0)
    return table


def test_with_a_record_key_every_entry_of_the_file_is_signed() -> None:
    seal, table = Seal.of("octo/app", "key"), signed_table()
    text = table.to_json(seal)
    data = json.loads(text)
    assert data["records"]["4"]["sig"] and data["flags"]["perm:octocat"][-1]
    assert data["held"]["a.py"][-1] and data["waiting"]["5"][-1]
    again = Table.from_json(text, seal)
    assert again.rejected == [] and again.to_json() == table.to_json()
    assert Table.from_json(text).to_json() == again.to_json()  # read without a key: as is


@pytest.mark.parametrize(
    ("kind", "name", "forge"),
    [
        ("record", "#4", lambda d: d["records"]["4"]["task"].update(state="approved")),
        ("record", "#4", lambda d: d["records"]["4"].update(version=9)),
        ("record", "#5", lambda d: d["records"].update({"5": d["records"].pop("4")})),
        ("flag", "perm:octocat", lambda d: d["flags"]["perm:octocat"].__setitem__(0, "admin")),
        ("held", "a.py", lambda d: d["held"]["a.py"].__setitem__(0, "5")),
        ("held", "b.py", lambda d: d["held"].update({"b.py": d["held"]["a.py"]})),
        ("waiting", "5", lambda d: d["waiting"]["5"].__setitem__(0, 0.0)),
    ],
)
def test_an_entry_changed_by_anyone_else_is_read_as_missing(
    kind: str, name: str, forge: object
) -> None:
    seal = Seal.of("octo/app", "key")
    data = json.loads(signed_table().to_json(seal))
    forge(data)  # type: ignore[operator]
    table = Table.from_json(json.dumps(data), seal)
    assert table.rejected == [f"{kind} {name}"]
    if kind == "record":
        assert table.load(4) is None and table.load(5) is None
    if kind == "held":
        assert name not in table.held


def test_entries_signed_with_another_key_or_for_another_repository_do_not_verify() -> None:
    text = signed_table().to_json(Seal.of("octo/app", "key"))
    for seal in (Seal.of("octo/app", "other"), Seal.of("octo/other", "key")):
        table = Table.from_json(text, seal)
        assert table.records == {} and table.held == {} and table.flags == {}
        assert len(table.rejected) == 4
    unsigned = Table.from_json(signed_table().to_json(), Seal.of("octo/app", "key"))
    assert unsigned.records == {} and len(unsigned.rejected) == 4


async def test_a_write_whose_reply_was_lost_is_found_after_other_runs_wrote_on_it(
    repo: str,
) -> None:
    fake = FakeGitHub(repo, files={"README.md": "x\n"})
    served, puts = fake.transport(), list[httpx.Request]()

    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "PUT":
            puts.append(request)
        if len(puts) == 2 and request is puts[-1]:
            another_run_writes()  # before the client's second try lands
        return served.handle_request(request)

    def another_run_writes() -> None:  # on top of the write whose answer went missing
        table = Table.from_json(fake.files_at(BRANCH)[FILE])
        table.set_flag("swept", "now", None, now=0.0)
        table.stamps.append("another-run")
        fake.commit_files(BRANCH, {FILE: table.to_json()}, "issuepilot: flag swept")

    mock = httpx.MockTransport(handle)
    gh = GitHub(repo, "t", "https://api.github.test", transport=mock, retry=RetryPolicy(base_s=0))
    CLIENTS.append(gh)
    fake.tokens["t"] = "octocat"
    store = LedgerStore(Ledger(gh))
    queued = await store.commit(Task(issue=3, state=TaskState.QUEUED))
    assert queued is not None
    fake.lose_reply("PUT", rf"/contents/{FILE}$")  # carried out; the client tries it again
    planning = await store.commit(queued.model_copy(update={"state": TaskState.PLANNING}))
    assert planning is not None and planning.version == 2  # not "already advanced"
    fresh = await LedgerStore(Ledger(gh)).load(3)
    assert fresh is not None and (fresh.version, fresh.state) == (2, TaskState.PLANNING)
    assert fresh is not None and len(puts) == 2
