"""The project's address is named once (pyproject.toml) and everything that points home derives from it."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ardent_provider import __version__, distribution
from ardent_provider.native.schema import package_schema

ROOT = Path(__file__).resolve().parents[2]


def declared_repository() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"])


def test_the_installed_metadata_gives_the_address_pyproject_names() -> None:
    assert distribution.repository_url() == declared_repository()


def test_schema_repository_download_url_and_go_path_derive_from_the_address() -> None:
    address = declared_repository()
    schema = package_schema()
    assert schema["repository"] == address
    assert schema["pluginDownloadURL"] == f"{address}/releases/download/v{__version__}"
    host_path = address.removeprefix("https://")
    assert schema["language"]["go"]["importBasePath"] == f"{host_path}/sdk/go/ardent"
    assert schema["version"] == __version__


def test_a_missing_distribution_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    distribution.repository_url.cache_clear()
    monkeypatch.setattr(distribution, "DISTRIBUTION", "ardent-provider-not-installed")
    try:
        with pytest.raises(RuntimeError, match="not installed"):
            distribution.repository_url()
    finally:
        distribution.repository_url.cache_clear()
