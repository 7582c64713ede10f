"""Where the project is published, read from the one place that names it: ``[project.urls]`` in pyproject.toml.

Everything that points at the project's home derives from that address: the schema's ``repository``, the
``pluginDownloadURL`` from which the engine fetches the plugin (the release assets of the tag ``v<version>``),
and the Go SDK's module path (``<host>/<owner>/<name>/sdk``, tagged ``sdk/v<version>``).
"""

from __future__ import annotations

import importlib.metadata
from functools import cache
from typing import Final

from . import __version__

DISTRIBUTION: Final = "ardent-provider"
PLUGIN_DOWNLOAD_PATH: Final = "releases/download/v{version}"
"""Below the repository: the release of this version, to which the engine appends the archive's name. The version
is written in, not left as the engine's ``${VERSION}``: ``pulumi import`` copies the URL into the program it
generates (PCL), where ``${VERSION}`` reads as an interpolation and code generation fails."""


@cache
def repository_url() -> str:
    """The canonical address of the project's repository, e.g. ``https://github.com/<owner>/ardent-provider``."""
    try:
        urls: list[str] = importlib.metadata.metadata(DISTRIBUTION).get_all("Project-URL") or []
    except importlib.metadata.PackageNotFoundError as error:
        raise RuntimeError(
            f"the {DISTRIBUTION} distribution is not installed, so its repository address is unknown: install the "
            "package (pip install .) rather than running it from a bare source folder"
        ) from error
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip().rstrip("/")
    raise RuntimeError(f"the {DISTRIBUTION} metadata names no Repository URL; pyproject.toml's [project.urls] must")


def plugin_download_url() -> str:
    """Where the engine downloads ``pulumi-resource-ardent-v<version>-<os>-<arch>.tar.gz`` from."""
    return f"{repository_url()}/{PLUGIN_DOWNLOAD_PATH.format(version=__version__)}"


def go_module_path() -> str:
    """The Go SDK's module path: the repository's address without its scheme, then ``/sdk``."""
    return f"{repository_url().split('://', 1)[-1]}/sdk"
