"""The dynamic provider behind ``ArdentApiKey``: a thin adapter from Pulumi's dicts to :mod:`.lifecycle`.

The provider instance is pickled into every resource's state, so it pickles to nothing: credentials arrive
through :meth:`ArdentApiKeyProvider.configure` in the provider process, where the provider keeps one
:class:`~ardent_provider.lifecycle.KeyLifecycle` per settings for the whole run. This class stays at
``ardent_provider.provider.ArdentApiKeyProvider``: existing stacks find it there.
"""

from __future__ import annotations

import functools
import sys
import traceback
import types
from collections.abc import Callable, Mapping
from typing import Any, ParamSpec, TypeVar

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pulumi.output import UNKNOWN as PULUMI_UNKNOWN
from pulumi.output import Unknown as PulumiUnknown

from .errors import ArdentError
from .lifecycle import KeyLifecycle
from .provider_steps import ProviderSteps
from .state import UNKNOWN, Unknown

PROVIDER_KEY = "__provider"
P = ParamSpec("P")
R = TypeVar("R")


def _plain_errors(method: Callable[P, R]) -> Callable[P, R]:
    """Let Ardent errors reach the user as their one-line message, without this module's frames."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(*args, **kwargs)
        except ArdentError as error:
            raise error.with_traceback(None) from None

    return wrapper


class _ReportedTraceback:
    """Stands in for the dynamic provider server's ``traceback`` module: an Ardent error reads as its message.

    The server answers every exception from a provider method with ``traceback.format_exc()``, which the
    engine prints as is. For Ardent errors the message says all a user needs; other errors keep their traceback.
    """

    def __init__(self, original: types.ModuleType) -> None:
        self._original = original

    def format_exc(self, *args: Any, **kwargs: Any) -> str:
        """The error's message (with its notes) for Ardent errors, else the usual traceback."""
        error = sys.exc_info()[1]
        if isinstance(error, ArdentError):
            return error.report()
        text: str = self._original.format_exc(*args, **kwargs)
        return text

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


def install_plain_error_reports(server_module: types.ModuleType | None = None) -> bool:
    """Make the dynamic provider server report Ardent errors without a traceback; True when installed.

    ``server_module`` is ``pulumi.dynamic.__main__``, which runs as ``__main__`` in the provider process.
    Anywhere else (the program, a test runner) nothing is changed.
    """
    module = server_module if server_module is not None else sys.modules.get("__main__")
    if module is None or not hasattr(module, "DynamicResourceProviderServicer"):
        return False
    current = getattr(module, "traceback", None)
    if isinstance(current, _ReportedTraceback):
        return True
    if current is not traceback:
        return False
    module.traceback = _ReportedTraceback(traceback)  # type: ignore[attr-defined]
    return True


def from_engine(value: Any) -> Any:
    """Pulumi's unknown markers replaced by this package's own, in nested lists and maps too."""
    if isinstance(value, PulumiUnknown):
        return UNKNOWN
    if isinstance(value, list):
        return [from_engine(item) for item in value]
    if isinstance(value, dict):
        return {key: from_engine(item) for key, item in value.items()}
    return value


def to_engine(value: Any) -> Any:
    """Unknown markers turned back into Pulumi's own, for the engine."""
    if isinstance(value, Unknown):
        return PULUMI_UNKNOWN
    if isinstance(value, list):
        return [to_engine(item) for item in value]
    if isinstance(value, dict):
        return {key: to_engine(item) for key, item in value.items()}
    return value


class ArdentApiKeyProvider(ResourceProvider):
    """Creates, reads, rotates and revokes Ardent API keys. A change of key input replaces the key."""

    def __getstate__(self) -> None:
        """Pickle nothing: settings and connections are per process, never part of state.

        None, not an empty dict: the SDK's ``serialize_provider`` wraps pickle's dict writer once more for
        every resource it serialises, so a dict in the pickle recurses one level deeper per key and a program
        with about a thousand keys fails with RecursionError. Without state there is no dict to write.
        """
        return None

    def __setstate__(self, state: Mapping[str, Any]) -> None:
        """Start empty; :meth:`configure` supplies the settings."""

    def configure(self, req: ConfigureRequest) -> None:
        """Remember the stack's configuration; settings are resolved when first needed."""
        install_plain_error_reports()
        # The whole stack config (every namespace), so that a misspelt ardent: key can be named.
        everything = getattr(req.config, "_props", None)
        self._config: Mapping[str, object] | Callable[[str], object | None] = (
            dict(everything) if isinstance(everything, Mapping) else req.config.get
        )

    @property
    def steps(self) -> ProviderSteps:
        """The steps shared with the native provider, on this provider's configuration."""
        return ProviderSteps(getattr(self, "_config", {}), pulumi.log.warn)

    def lifecycle(self, org_id: str | None = None) -> KeyLifecycle:
        """The run's lifecycle for an org (the configured default when None), created on first use."""
        return self.steps.lifecycle(org_id)

    # -- preview ------------------------------------------------------------------------------------

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate and normalise the inputs; every problem is reported against its property.

        Inputs unknown at preview pass through and are checked when known; the settings and the scopes
        against the role are proved at preview, before anything is created.
        """
        inputs, failures = self.steps.check(from_engine(news))
        return CheckResult(to_engine(inputs), [CheckFailure(name, reason) for name, reason in failures])

    @_plain_errors
    def diff(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare real inputs; a changed key input, expiry, a broken token or the rotation window replace."""
        plan = self.steps.plan(id_, olds, from_engine(news))
        return DiffResult(changes=plan.changes, replaces=list(plan.replaces), stables=[], delete_before_replace=False)

    # -- lifecycle ----------------------------------------------------------------------------------

    @_plain_errors
    def create(self, props: dict[str, Any]) -> CreateResult:
        """Create (or, the first time, adopt) the key and return every output, its token included."""
        state = self.steps.create(props)
        return CreateResult(state.key_id, state.to_outputs())

    @_plain_errors
    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Find the key in the org's list. A key gone (revoked or deleted) leaves state; the token is kept."""
        state = self.steps.read(id_, props)
        if state is None:
            return ReadResult(None, {})
        return ReadResult(state.key_id, state.to_outputs())

    @_plain_errors
    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Record changed settings, and revoke the previous key once its grace period is over."""
        return UpdateResult(self.steps.update(id_, olds, news).to_outputs())

    @_plain_errors
    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Revoke the key (unless a rotation keeps it for its grace period) and any previous key it kept."""
        self.steps.delete(id_, props)
