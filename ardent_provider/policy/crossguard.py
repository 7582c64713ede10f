"""The Ardent policy pack on Pulumi CrossGuard (``pulumi-policy``): :mod:`.rules` as resource validation policies.

Needs the ``policy`` extra (``pip install 'ardent-provider[policy]'``). :func:`serve` is what the pack's program
runs; the CLI starts it through the launcher that ``ardent-keys policy-pack`` writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import grpc
from google.protobuf import json_format
from pulumi_policy import (
    EnforcementLevel,
    Policy,
    PolicyConfigSchema,
    PolicyPack,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
)
from pulumi_policy import policy as pulumi_policy_internals
from pulumi_policy.proxy import UnknownValueError

from ..program_words import program_wording
from ..resource_types import is_key_type
from ..state import UNKNOWN
from .rules import POLICIES, KeyInputs, PolicySpec, config_problems

PACK_NAME = "ardent-api-keys"
_LEVELS = MappingProxyType(
    {
        "advisory": EnforcementLevel.ADVISORY,
        "mandatory": EnforcementLevel.MANDATORY,
        "disabled": EnforcementLevel.DISABLED,
    }
)


def plain(value: Any) -> Any:
    """A property value from a policy's ``args.props`` as plain dicts and lists, ``UNKNOWN`` where unknown.

    The SDK's proxies raise :class:`UnknownValueError` when an unknown value is read, and the SDK turns an
    escaped one into a warning that the policy could not run; reading every value here instead keeps an
    unknown input a non-event, as it should be at preview.
    """
    if isinstance(value, Mapping):
        return {key: _item(value, key) for key in value}
    if isinstance(value, Sequence) and not isinstance(value, str | bytes):
        return [_item(value, index) for index in range(len(value))]
    return value


def _item(container: Any, key: Any) -> Any:
    try:
        item = container[key]
    except UnknownValueError:
        return UNKNOWN
    return plain(item)


def policy(spec: PolicySpec) -> ResourceValidationPolicy:
    """The CrossGuard policy that applies ``spec`` to every ``ArdentApiKey``."""

    def validate(args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not is_key_type(args.resource_type):
            return
        key = KeyInputs.from_props(args.name, plain(args.props), args.resource_type)
        message = spec.decide(key, args.get_config())
        if message:
            report_violation(key.in_program_words(message, program_wording()), None)

    return ResourceValidationPolicy(
        name=spec.name,
        description=spec.description,
        validate=validate,
        enforcement_level=_LEVELS[spec.enforcement_level],
        config_schema=PolicyConfigSchema(properties={name: dict(schema) for name, schema in spec.config_schema.items()})
        if spec.config_schema
        else None,
    )


def policies() -> list[Policy]:
    """Every policy of the pack, in the order the README lists them."""
    return [policy(spec) for spec in POLICIES]


def refuse_unknown_config(servicer_class: Any) -> None:
    """Make the pack's ``Configure`` fail on a policy name or option the pack does not have.

    The engine hands every entry of ``--policy-pack-config`` to ``Configure`` (unknown names included) and
    stops the preview when ``Configure`` fails, printing its message; ``pulumi_policy`` only stores the config.
    """
    if getattr(servicer_class, "_ardent_checks_config", False):
        return
    configure = servicer_class.Configure

    def checked_configure(self: Any, request: Any, context: Any) -> Any:
        given = {name: json_format.MessageToDict(entry.properties) for name, entry in request.policyConfig.items()}
        problems = config_problems(given)
        if problems:
            context.abort(
                grpc.StatusCode.INVALID_ARGUMENT,
                "The Ardent policy pack's configuration (--policy-pack-config) has mistakes: " + " ".join(problems),
            )
        return configure(self, request, context)

    servicer_class.Configure = checked_configure
    servicer_class._ardent_checks_config = True


def serve() -> None:
    """Serve the pack to the engine until it stops the process; the pack's program calls this."""
    refuse_unknown_config(pulumi_policy_internals._PolicyAnalyzerServicer)
    PolicyPack(
        name=PACK_NAME,
        policies=policies(),
        description="Key hygiene for Ardent API keys declared with ArdentApiKey or the native ardent:index:ApiKey.",
        display_name="Ardent API keys",
    )
