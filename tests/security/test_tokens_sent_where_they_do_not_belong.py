"""The GitHub token would go, as the model key, to whatever endpoint `model-base-url`
names; an App token would reach every repository of the installation with every
permission of the App. Neither happens."""

import pytest

from issuepilot.cli import model_key
from issuepilot.errors import InputError
from issuepilot.github.auth import APP_PERMISSIONS
from issuepilot.github.client import GitHub
from issuepilot.testing.github import App, FakeGitHub

from ..e2e.harness import rsa_key


def test_the_github_token_goes_to_github_models_only() -> None:
    assert model_key("", "https://models.github.ai/inference", "ghs_x") == "ghs_x"
    with pytest.raises(InputError, match="model-api-key is required"):
        model_key("", "https://api.evil.example/v1", "ghs_x")
    assert model_key("sk-1", "https://api.openai.com/v1", "ghs_x") == "sk-1"


async def test_the_app_token_is_asked_for_this_repository_and_what_is_used() -> None:
    private, public = rsa_key()
    fake = FakeGitHub("octo/app")
    fake.app = App("77", public, permissions={**APP_PERMISSIONS, "administration": "write"})
    fake.open_issue("x")
    gh = GitHub("octo/app", api_url=fake.url, transport=fake.transport(), app=("77", private))
    try:
        await gh.get_issue(1)
    finally:
        await gh.aclose()
    [asked] = fake.app.requests
    assert asked == {"repositories": ["app"], "permissions": APP_PERMISSIONS}
