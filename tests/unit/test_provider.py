"""The provider instance pickles to nothing: a reference to its class, found by module path."""

from __future__ import annotations

import base64
import importlib.util
import subprocess
import sys
import traceback
import types
from pathlib import Path

import dill
from pulumi.dynamic.dynamic import serialize_provider

from ardent_provider.errors import ArdentConfigurationError
from ardent_provider.provider import ArdentApiKeyProvider, install_plain_error_reports


def test_the_serialized_provider_is_a_reference_with_no_state() -> None:
    provider = ArdentApiKeyProvider()
    blob = base64.b64decode(serialize_provider(provider))
    assert len(blob) < 200
    assert b"ardent_provider.provider" in blob and b"ArdentApiKeyProvider" in blob
    assert dill.loads(blob).__dict__ == {}


def test_the_installed_sdk_server_is_one_that_install_plain_error_reports_knows() -> None:
    # _ReportedTraceback stands in for the module `traceback` of pulumi.dynamic.__main__. The SDKs of the support
    # matrix have one of two servers: 3.139 to 3.172 let an exception escape to gRPC (nothing to patch, nothing is
    # patched); newer ones answer with `traceback.format_exc()` through the module global (patched). Any other shape
    # fails here, so that an SDK release that changes the server is looked at, not silently left with tracebacks.
    spec = importlib.util.find_spec("pulumi.dynamic.__main__")
    assert spec is not None and spec.origin is not None
    source = Path(spec.origin).read_text()
    assert "class DynamicResourceProviderServicer" in source
    server = types.ModuleType("server_like_the_installed_one")
    server.DynamicResourceProviderServicer = object  # type: ignore[attr-defined]
    if "traceback" not in source:
        assert install_plain_error_reports(server) is False and not hasattr(server, "traceback")
        return
    reports = "context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())"
    assert "\nimport traceback\n" in source and reports in source and source.count("traceback.") == 1, (
        "pulumi.dynamic.__main__ reports errors in a way install_plain_error_reports does not know: review it"
    )
    server.traceback = traceback  # type: ignore[attr-defined]
    assert install_plain_error_reports(server) is True


def test_ardent_errors_are_reported_as_their_message_and_other_errors_keep_their_traceback() -> None:
    server = types.ModuleType("fake_server")
    server.traceback = traceback  # type: ignore[attr-defined]
    server.DynamicResourceProviderServicer = object  # type: ignore[attr-defined]
    assert install_plain_error_reports(server) is True
    assert install_plain_error_reports(server) is True
    error = ArdentConfigurationError("Could not create Ardent key 'x': the API said no.")
    error.add_note("Tried 4 times.")
    try:
        raise error
    except ArdentConfigurationError:
        report = server.traceback.format_exc()
    assert report == "Could not create Ardent key 'x': the API said no.\nTried 4 times."
    try:
        raise KeyError("boom")
    except KeyError:
        report = server.traceback.format_exc()
    assert report.startswith("Traceback (most recent call last)") and "KeyError: 'boom'" in report
    assert server.traceback.print_exc is traceback.print_exc


def test_outside_the_provider_server_nothing_is_patched() -> None:
    assert install_plain_error_reports(types.ModuleType("just_a_program")) is False


def test_a_program_can_serialize_the_provider_for_thousands_of_keys() -> None:
    # serialize_provider wraps pickle's dict writer once per call and never unwraps it, so the check runs in a
    # child interpreter, where a provider pickling a dict would hit RecursionError near a thousand keys.
    script = (
        "from pulumi.dynamic.dynamic import serialize_provider\n"
        "from ardent_provider.provider import ArdentApiKeyProvider\n"
        "blobs = {serialize_provider(ArdentApiKeyProvider()) for _ in range(3000)}\n"
        "print(len(blobs))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "1"
