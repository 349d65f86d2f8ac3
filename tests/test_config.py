from pathlib import Path

import pytest

from issuepilot.config import RepoConfig, Settings, config_layer, load_config, merged_config
from issuepilot.errors import InputError


def test_missing_or_empty_file_means_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "none.yml") == RepoConfig()
    (tmp_path / "empty.yml").write_text("")
    assert load_config(tmp_path / "empty.yml") == RepoConfig()


def test_dashed_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text(
        "label-prefix: robot\nallowed-users: [Ann]\nmax-files: 3\nkeep-finished-days: 2\n"
    )
    config = load_config(path)
    assert config.rules.labels.trigger == "robot" and config.max_files == 3
    assert config.keep_finished_s == 2 * 24 * 3600 and RepoConfig().keep_finished_days == 30
    assert config.may_act_without_check("ann") and not config.may_act_without_check("bob")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour: red\n", "setting 'colour'"),
        ("lease-minutes: -1\n", "setting 'lease-minutes'"),
        ("label-prefix: 'has space'\n", "setting 'label-prefix'"),
        ("- a\n- b\n", "must be a mapping"),
        ("a: [\n", "not valid YAML at line"),
    ],
)
def test_errors_name_the_key_and_the_file(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "issuepilot.yml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        load_config(path)
    assert str(path) in str(info.value)


def test_workflow_file_from_workflow_ref() -> None:
    base = {"repo": "o/r", "token": "t", "redis_url": "redis://x"}
    ref = "o/r/.github/workflows/pilot.yml@refs/heads/main"
    assert Settings(**base, workflow_ref=ref).workflow_file == ("pilot.yml", "main")
    assert Settings(**base).workflow_file is None
    # A workflow of another repository (a central runner's) is not this run's to start.
    other = "o/runner/.github/workflows/pilot.yml@refs/heads/main"
    assert Settings(**base, workflow_ref=other).workflow_file is None


def test_an_organisations_defaults_are_overridden_key_by_key(tmp_path: Path) -> None:
    org = config_layer(
        "label-prefix: robot\nrun-steps-in: workers\nchecks: {test: pytest}\nmax-files: 5\n",
        "octo/.github: .github/issuepilot.yml",
    )
    path = tmp_path / "issuepilot.yml"
    path.write_text("run-steps-in: actions\nchecks: {lint: ruff check}\n")
    config = load_config(path, org)
    assert config.label_prefix == "robot" and config.max_files == 5  # the organisation's
    assert config.run_steps_in == "actions"  # the repository's own
    assert config.checks == {"lint": "ruff check"}  # a key is one whole value
    assert load_config(tmp_path / "none.yml", org).run_steps_in == "workers"
    assert merged_config() == RepoConfig()


def test_an_organisations_bad_setting_names_its_repository() -> None:
    with pytest.raises(InputError, match=r"octo/\.github: .*: setting 'max-files'"):
        config_layer("max-files: lots\n", "octo/.github: .github/issuepilot.yml")
