"""Where settings come from, and what check() accepts."""

from __future__ import annotations

from typing import Any

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
    ("key", "suggested"),
    [
        ("ardent:apiURL", "ardent:apiUrl"),
        ("ardent:api_url", "ardent:apiUrl"),
        ("ardent:orgid", "ardent:orgId"),
        ("ardent:org", "ardent:orgId"),
        ("ardent:tokn", "ardent:token"),
    ],
)
def test_an_unknown_ardent_key_names_the_nearest_setting(key: str, suggested: str) -> None:
    config = {key: "value", "ardent:token": TOKEN, "ardent:orgId": "org_1"}
    with pytest.raises(ArdentConfigurationError) as raised:
        resolve_settings(config, {})
    message = str(raised.value)
    assert message.startswith(f"`{key}` is not a setting; did you mean `{suggested}`?"), message
    assert f"pulumi config rm {key}" in message and "\n" not in message and TOKEN not in message


def test_every_unknown_key_is_named_and_one_unlike_any_setting_gets_no_guess() -> None:
    config = {"ardent:region": "eu", "ardent:apiURL": "http://127.0.0.1:9", "ardent:token": TOKEN}
    with pytest.raises(ArdentConfigurationError) as raised:
        resolve_settings(config, {"ARDENT_ORG_ID": "org_1"})
    message = str(raised.value)
    assert "`ardent:apiURL` is not a setting; did you mean `ardent:apiUrl`?" in message
    assert "`ardent:region` is not a setting." in message
    assert "ardent:token, ardent:orgId, ardent:apiUrl and ardent:orgs" in message


def test_other_namespaces_and_the_reserved_orgs_key_pass() -> None:
    config = {
        "ardent:token": TOKEN,
        "ardent:orgId": "org_1",
        "ardent:orgs": '{"org_2": {"token": "x"}}',
        "aws:region": "eu-west-1",
        "my-project:ardent": "anything",
        "ardentx:token": "not ours",
    }
    assert resolve_settings(config, {}).org_id == "org_1"


def test_a_lookup_function_cannot_be_enumerated_so_only_mappings_are_checked() -> None:
    config = {"ardent:token": TOKEN, "ardent:orgId": "org_1", "ardent:apiURL": "https://x.example"}
    assert resolve_settings(config.get, {}).api_url == DEFAULT_API_URL


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://api.tryardent.com", "not an http(s) URL"),
        ("api.tryardent.com", "not an http(s) URL"),
        ("", "not an http(s) URL"),
        ("http://api.tryardent.com", "unencrypted"),
        ("http://10.0.0.8:8080", "unencrypted"),
        ("https://user:pw@api.tryardent.com", "user name or password"),
        ("http://127.0.0.1:99999", "port"),
        ("https://api.tryardent.com/?x=1", "must not carry a query"),
        ("https://api.tryardent.com?", "must not carry a query"),
        ("https://api.tryardent.com#top", "must not carry a fragment"),
        ("https://api.tryardent.com/v1", "drop /v1"),
        ("https://api.tryardent.com/v1/", "drop /v1"),
        ("http://127.0.0.1:8787/v1", "drop /v1"),
        ("https://gateway.example/ardent", "drop the path"),
    ],
)
def test_unusable_urls_are_refused_saying_what_is_wrong(url: str, says: str) -> None:
    with pytest.raises(ArdentConfigurationError) as raised:
        check_api_url(url)
    assert says in str(raised.value)


@pytest.mark.parametrize("url", ["https://api.tryardent.com/v1", "https://api.tryardent.com/v1?x=1#y"])
def test_a_url_with_a_path_or_query_asks_for_the_base_url(url: str) -> None:
    with pytest.raises(ArdentConfigurationError) as raised:
        check_api_url(url)
    assert "base URL" in str(raised.value) and DEFAULT_API_URL in str(raised.value)


def test_secrets_in_a_url_are_not_echoed() -> None:
    for url in ("https://user:hunter2@api.tryardent.com", "https://api.tryardent.com/?token=hunter2#hunter2"):
        with pytest.raises(ArdentConfigurationError) as raised:
            check_api_url(url)
        assert "hunter2" not in str(raised.value)


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


def test_each_org_uses_its_own_entry_and_other_orgs_fall_back_to_the_default_credentials() -> None:
    config = {
        "ardent:token": "sk-ard_test_default",
        "ardent:orgId": "org_main",
        "ardent:orgs": '{"org_eu": {"token": "sk-ard_test_eu", "apiUrl": "https://eu.example"}, "org_us": {}}',
    }
    main = resolve_settings(config, {})
    assert (main.org_id, main.token.reveal(), main.api_url, main.own_credentials) == (
        "org_main",
        "sk-ard_test_default",
        DEFAULT_API_URL,
        True,
    )
    eu = resolve_settings(config, {}, org_id="org_eu")
    assert (eu.token.reveal(), eu.api_url, eu.own_credentials) == ("sk-ard_test_eu", "https://eu.example", True)
    other = resolve_settings(config, {}, org_id="org_other")
    assert (other.token.reveal(), other.own_credentials) == ("sk-ard_test_default", False)
    assert resolve_settings(config, {}, org_id="org_main").own_credentials is True
    structured = {**config, "ardent:orgs": {"org_eu": {"token": "sk-ard_test_eu2"}}}
    assert resolve_settings(structured, {}, org_id="org_eu").token.reveal() == "sk-ard_test_eu2"


def test_an_org_given_explicitly_needs_no_default_org() -> None:
    config = {"ardent:orgs": '{"org_eu": {"token": "sk-ard_test_eu"}}'}
    assert resolve_settings(config, {}, org_id="org_eu").org_id == "org_eu"
    with pytest.raises(ArdentConfigurationError, match=r"org org_us: run .*ardent:orgs\.org_us\.token"):
        resolve_settings(config, {}, org_id="org_us")


@pytest.mark.parametrize(
    ("orgs", "says"),
    [
        ("{not json", "must be a map of org ids"),
        ("[1, 2]", "must be a map of org ids"),
        ('{"org_eu": "sk-ard_test_x"}', "ardent:orgs.org_eu must be a map"),
        ('{"org_eu": {"tokn": "x"}}', "ardent:orgs.org_eu.tokn is not a setting"),
        ('{"org_eu": {"token": "x", "apiUrl": "https://eu.example/v1"}}', "drop /v1"),
    ],
)
def test_bad_per_org_credentials_say_what_is_wrong(orgs: str, says: str) -> None:
    config = {"ardent:token": TOKEN, "ardent:orgId": "org_main", "ardent:orgs": orgs}
    with pytest.raises(ArdentConfigurationError, match=says):
        resolve_settings(config, {}, org_id="org_eu")


@pytest.mark.parametrize(
    ("value", "expected"), [(30, 30), (30.0, 30), (1.5, None), (True, None), ("30", None), (None, None)]
)
def test_one_reading_of_whole_numbers_serves_the_state_and_the_policy_pack(value: Any, expected: int | None) -> None:
    from ardent_provider.policy.rules import KeyInputs, expiry_required
    from ardent_provider.state import whole_number

    assert whole_number(value) == expected
    verdict = expiry_required(KeyInputs("svc", role="role_org_viewer", expires_in_days=30), {"max_days": value})
    assert (verdict is None) == (expected is not None), verdict


def test_pulumi_versions_are_read_whatever_the_build_suffix() -> None:
    from ardent_provider.pulumi_version import MIN_CLI_VERSION, parse_version, shown

    assert parse_version("v3.274.1\n") == (3, 274, 1)
    assert parse_version("3.139.0-dev.0+g1234") == (3, 139, 0)
    assert parse_version("no version here") is None
    assert shown(MIN_CLI_VERSION) == "3.139.0" and (3, 138, 9) < MIN_CLI_VERSION <= (3, 139, 0)
