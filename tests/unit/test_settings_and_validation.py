"""Where settings come from, and what check() accepts."""

from __future__ import annotations

import pytest

from ardent_provider.errors import ArdentConfigurationError
from ardent_provider.settings import DEFAULT_API_URL, check_api_url, resolve_settings
from ardent_provider.validation import validate_inputs

TOKEN = "sk-ard_test_" + "a" * 40


def test_stack_config_wins_over_the_environment() -> None:
    config = {"ardent:token": TOKEN, "ardent:orgId": "org_config", "ardent:apiUrl": "http://127.0.0.1:9"}
    env = {
        "ARDENT_TOKEN": "sk-ard_test_env",
        "ARDENT_ORG_ID": "org_env",
        "ARDENT_API_URL": "https://x.example",
    }
    settings = resolve_settings(config, env)
    assert (settings.org_id, settings.api_url, settings.token.reveal()) == (
        "org_config",
        "http://127.0.0.1:9",
        TOKEN,
    )
    assert TOKEN not in repr(settings)


def test_environment_is_the_fallback_and_the_url_has_a_default() -> None:
    settings = resolve_settings({}, {"ARDENT_TOKEN": TOKEN, "ARDENT_ORG_ID": "org_env"})
    assert settings.api_url == DEFAULT_API_URL == "https://api.tryardent.com"


@pytest.mark.parametrize(
    ("config", "env", "named"),
    [
        ({}, {}, "ardent:token"),
        ({"ardent:token": TOKEN}, {}, "ardent:orgId"),
        ({"ardent:token": "  "}, {"ARDENT_ORG_ID": "o"}, "ARDENT_TOKEN"),
    ],
)
def test_a_missing_setting_is_one_sentence_naming_it(config: dict[str, str], env: dict[str, str], named: str) -> None:
    with pytest.raises(ArdentConfigurationError) as raised:
        resolve_settings(config, env)
    assert named in str(raised.value) and "\n" not in str(raised.value)


@pytest.mark.parametrize(
    "url",
    [
        "ftp://api.tryardent.com",
        "api.tryardent.com",
        "http://api.tryardent.com",
        "http://10.0.0.8:8080",
        "https://user:pw@api.tryardent.com",
        "https://api.tryardent.com/?x=1",
        "",
    ],
)
def test_unusable_urls_are_refused(url: str) -> None:
    with pytest.raises(ArdentConfigurationError):
        check_api_url(url)


@pytest.mark.parametrize(
    "url", ["https://api.tryardent.com/", "http://127.0.0.1:8787", "http://localhost:1", "http://[::1]:5"]
)
def test_https_and_loopback_http_are_accepted(url: str) -> None:
    assert not check_api_url(url).endswith("/")


def test_valid_inputs_are_normalised() -> None:
    inputs, problems = validate_inputs(
        {
            "name": "Production-Test",
            "role": "Admin",
            "scopes": ["org.read", "api_keys.read", "org.read"],
            "expires_in_days": 30.0,
        }
    )
    assert problems == []
    assert {key: inputs[key] for key in ("name", "role", "scopes", "expires_in_days")} == {
        "name": "Production-Test",
        "role": "role_org_admin",
        "scopes": ["api_keys.read", "org.read"],
        "expires_in_days": 30,
    }


@pytest.mark.parametrize(
    ("news", "prop"),
    [
        ({"name": "", "role": "admin"}, "name"),
        ({"name": "x" * 101, "role": "admin"}, "name"),
        ({"name": "a\nb", "role": "admin"}, "name"),
        ({"name": 7, "role": "admin"}, "name"),
        ({"name": "ok", "role": "superuser"}, "role"),
        ({"name": "ok", "role": None}, "role"),
        ({"name": "ok", "role": "admin", "scopes": "all"}, "scopes"),
        ({"name": "ok", "role": "admin", "scopes": ["Connectors Read"]}, "scopes"),
        ({"name": "ok", "role": "admin", "scopes": [3]}, "scopes"),
        ({"name": "ok", "role": "admin", "expires_in_days": 0}, "expires_in_days"),
        ({"name": "ok", "role": "admin", "expires_in_days": -3}, "expires_in_days"),
        ({"name": "ok", "role": "admin", "expires_in_days": 1.5}, "expires_in_days"),
        ({"name": "ok", "role": "admin", "expires_in_days": "30"}, "expires_in_days"),
        ({"name": "ok", "role": "admin", "expires_in_days": True}, "expires_in_days"),
        ({"name": "ok", "role": "admin", "expires_in_days": 10**9}, "expires_in_days"),
    ],
)
def test_bad_inputs_are_reported_against_their_property(news: dict[str, object], prop: str) -> None:
    _, problems = validate_inputs(news)
    assert [name for name, _ in problems] == [prop]
    assert problems[0][1]
