import pytest

from issuepilot.errors import InputError
from issuepilot.paths import normalize_path, repo_path


def test_one_spelling_per_file() -> None:
    assert normalize_path("./src//x.py") == "src/x.py"
    assert normalize_path("src/y/../z.py") == "src/z.py"
    assert normalize_path("a\\b.py") == "a/b.py"


@pytest.mark.parametrize(
    "bad", ["/etc/passwd", "../up.py", "a/../../b", "", "C:\\x", "a\0b", ".", ".."]
)
def test_paths_outside_the_repository_are_refused(bad: str) -> None:
    with pytest.raises(InputError):
        normalize_path(bad)


@pytest.mark.parametrize("bad", [".git", ".git/config", "./.git/hooks/pre-commit", "../x"])
def test_an_agent_never_writes_into_git_or_outside(bad: str) -> None:
    with pytest.raises(ValueError):
        repo_path(bad)
    assert repo_path("src/.gitignore") == "src/.gitignore"
