"""`issuepilot init`: the files it writes, never over a different file without --force,
the same result when run again, and the labels, made on the fake GitHub over loopback."""

from pathlib import Path
from typing import Any

import pytest
import yaml

from issuepilot import release, scaffold
from issuepilot.config import DEFAULT_CONFIG_PATH, RepoConfig, load_config
from issuepilot.errors import InputError
from issuepilot.labels import Labels
from issuepilot.testing.github import FakeGitHub

ROOT = Path(__file__).parents[1]


def target(root: Path, **given: Any) -> scaffold.Target:
    return scaffold.Target(root=root, ref="v9.9.9", **given)


async def test_init_writes_the_workflow_pinned_to_the_release(tmp_path: Path) -> None:
    said = await scaffold.init(target(tmp_path))
    text = (tmp_path / scaffold.WORKFLOW_PATH).read_text()
    job = yaml.safe_load(text)["jobs"]["issuepilot"]
    assert job["uses"] == f"{release.repository()}/{release.REUSABLE_WORKFLOW}@v9.9.9"
    assert not (tmp_path / DEFAULT_CONFIG_PATH).exists()
    assert said[0] == "wrote .github/workflows/issuepilot.yml"
    assert "Allow GitHub Actions to create and approve pull requests" in said[-1]


def test_the_default_ref_is_the_installed_versions_tag() -> None:
    # What `issuepilot init` without --ref pins: the tag of the installed package.
    assert release.tag() == f"v{release.version()}"
    assert release.workflow_ref().endswith(f"@v{release.version()}")


async def test_init_again_changes_nothing_and_says_so(tmp_path: Path) -> None:
    await scaffold.init(target(tmp_path, config=True))
    before = {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()}
    said = await scaffold.init(target(tmp_path, config=True))
    assert said[0] == "the files are already as init writes them"
    assert {p: p.read_text() for p in tmp_path.rglob("*") if p.is_file()} == before


async def test_a_different_file_is_kept_unless_forced(tmp_path: Path) -> None:
    workflow = tmp_path / scaffold.WORKFLOW_PATH
    workflow.parent.mkdir(parents=True)
    workflow.write_text("name: mine\n")
    with pytest.raises(InputError, match="exists and differs: pass --force to replace it"):
        await scaffold.init(target(tmp_path, config=True))
    assert workflow.read_text() == "name: mine\n"
    assert not (tmp_path / DEFAULT_CONFIG_PATH).exists()  # nothing written half-way
    said = await scaffold.init(target(tmp_path, config=True, force=True))
    assert said[:2] == ["replaced .github/workflows/issuepilot.yml", "wrote .github/issuepilot.yml"]
    assert "reusable.yml@v9.9.9" in workflow.read_text()


async def test_a_folder_that_is_not_there_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="is not a folder"):
        await scaffold.init(target(tmp_path / "missing"))


def test_the_settings_file_lists_every_setting_at_its_default() -> None:
    text = scaffold.config_text("v1.2.3")
    lines = [line for line in text.splitlines() if not line.startswith("# ") or ": " in line]
    for name, field in RepoConfig.model_fields.items():
        key = name.replace("_", "-")
        [line] = [line for line in lines if line.startswith(f"# {key}: ")]
        assert field.description and line.endswith(f"# {field.description}")
    # Every line uncommented is a valid settings file that changes nothing.
    uncommented = "\n".join(line.removeprefix("# ") for line in text.splitlines()[3:])
    assert (
        RepoConfig.model_validate(
            {k.replace("-", "_"): v for k, v in yaml.safe_load(uncommented).items()}
        )
        == RepoConfig()
    )


def test_the_configuration_doc_lists_the_same_settings() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    block = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    assert block.splitlines() == scaffold.settings_lines(commented=False)


async def test_a_label_prefix_in_the_settings_reaches_the_workflow(tmp_path: Path) -> None:
    (tmp_path / ".github").mkdir()
    (tmp_path / DEFAULT_CONFIG_PATH).write_text("label-prefix: pilot\n")
    await scaffold.init(target(tmp_path))
    text = (tmp_path / scaffold.WORKFLOW_PATH).read_text()
    assert yaml.safe_load(text)["jobs"]["issuepilot"]["with"] == {"label-prefix": "pilot"}
    assert load_config(tmp_path / DEFAULT_CONFIG_PATH).label_prefix == "pilot"


async def test_with_a_token_init_creates_the_missing_labels_once(tmp_path: Path) -> None:
    with FakeGitHub("octo/app") as github:
        github.labels["bug"] = {"color": "d73a4a", "description": ""}
        github.labels["issuepilot"] = {"color": "000000", "description": "ours already"}
        given = {"repo": "octo/app", "token": "ghs_fake", "api_url": github.url}
        said = await scaffold.init(target(tmp_path, **given))
        wanted = Labels().definitions()
        assert set(github.labels) == set(wanted) | {"bug"}
        assert github.labels["issuepilot"]["color"] == "000000"  # an existing label is kept
        assert github.labels["issuepilot:retry"]["color"] == wanted["issuepilot:retry"][0]
        assert said[1].startswith("labels: created issuepilot:approved, ")
        assert "https://github.com/octo/app/settings/actions" in said[-1]
        calls = len(github.requests)
        again = await scaffold.init(target(tmp_path, **given))
        assert again[1] == "labels: all present"
        assert [r[0] for r in github.requests[calls:]] == ["GET"]
        assert not github.unknown


async def test_a_repo_that_is_not_owner_and_name_is_bad_input(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--repo must be owner/name"):
        await scaffold.init(target(tmp_path, repo="app", token="t"))
