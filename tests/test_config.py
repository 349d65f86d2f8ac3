from pathlib import Path

import pytest

from issuepilot.config import RepoConfig, Settings, load_config
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
