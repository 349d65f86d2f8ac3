"""A traceback, a debug print or a log line shows the run's settings: no secret appears."""

from issuepilot.config import Settings

SECRETS = ["ghs_token_value_1", "redis-password-2", "sk-model-key-3", "record-key-4", "PEM-5"]


def test_settings_never_show_a_secret() -> None:
    settings = Settings(
        repo="o/r",
        token="ghs_token_value_1",
        redis_url="rediss://default:redis-password-2@host:6380",
        model_api_key="sk-model-key-3",
        record_key="record-key-4",
        app_private_key="-----BEGIN PRIVATE KEY-----\nPEM-5\n-----END PRIVATE KEY-----",
        runner_env={"ANY": "runner-env-secret-6"},
    )
    shown = repr(settings) + str(settings) + f"{settings}"
    for secret in [*SECRETS, "runner-env-secret-6"]:
        assert secret not in shown
    assert set(SECRETS) - {"PEM-5"} <= {s for s in settings.secrets()} | {"redis-password-2"}
