"""What the native plugin takes from the pulumi SDK's provider server beyond its public interface, checked against the
installed SDK: each support-matrix cell runs these, so an SDK release that moves any of it fails here, loudly.

``main()`` swaps the module global ``server.ProviderServicer`` for :class:`PlainErrorServicer` before calling
``server.main``, which must build its servicer from that global; the subclass wraps the SDK servicer's RPC methods;
``Read`` reads one field of the raw request; ``diff_config`` is left to the SDK's default answer.
"""

from __future__ import annotations

import asyncio
import inspect
import types
from collections.abc import Iterator

import pytest

pytest.importorskip("pulumi.provider.experimental.provider", reason="the native plugin needs pulumi 3.260 or newer")

from pulumi.provider.experimental import server
from pulumi.provider.experimental.provider import DiffRequest, Provider
from pulumi.runtime.proto import provider_pb2

from ardent_provider.native.plugin import ArdentProvider, PlainErrorServicer

WRAPPED_RPCS = ("CheckConfig", "Configure", "Check", "Diff", "Create", "Read", "Update", "Delete")


def global_names(code: types.CodeType) -> Iterator[str]:
    """The global and attribute names a function's code (its nested functions too) refers to."""
    yield from code.co_names
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from global_names(constant)


def test_server_main_builds_its_servicer_from_the_module_global_the_plugin_replaces() -> None:
    assert isinstance(server.ProviderServicer, type)
    assert "ProviderServicer" in set(global_names(server.main.__code__)), (
        "pulumi.provider.experimental.server.main no longer builds `ProviderServicer` by its module global: "
        "ardent_provider.native.plugin.main would serve with the SDK's servicer; review it"
    )
    assert list(inspect.signature(server.main).parameters) == ["args", "version", "provider"]


@pytest.mark.parametrize("name", WRAPPED_RPCS)
def test_every_rpc_the_plain_error_servicer_wraps_is_a_coroutine_of_the_sdk_servicer(name: str) -> None:
    rpc = getattr(server.ProviderServicer, name)
    assert inspect.iscoroutinefunction(rpc), f"ProviderServicer.{name} is no longer a coroutine function"
    assert list(inspect.signature(rpc).parameters) == ["self", "request", "context"]
    assert getattr(PlainErrorServicer, name) is not rpc, f"PlainErrorServicer does not wrap {name}"


def test_a_read_request_says_whether_the_engine_serves_resource_status() -> None:
    # The plugin tells `pulumi import` (no program, no resource status service) from `get` by this field.
    assert "resource_status_address" in provider_pb2.ReadRequest.DESCRIPTOR.fields_by_name


def test_the_sdk_answers_diff_config_with_an_unknown_diff_so_the_engine_updates_the_provider_in_place() -> None:
    # An unknown answer makes the engine compare the settings itself: a changed token updates the provider and
    # replaces none of its keys (tests/e2e/test_native_engine_calls.py shows it through the engine).
    assert ArdentProvider.diff_config is Provider.diff_config
    loop = asyncio.new_event_loop()
    try:
        request = DiffRequest("urn:pulumi:s::p::pulumi:providers:ardent::team", "id", {}, {}, [])
        answer = loop.run_until_complete(ArdentProvider().diff_config(request))
    finally:
        loop.close()
    assert answer.changes is None and answer.replaces == []
