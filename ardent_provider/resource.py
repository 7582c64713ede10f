"""``ArdentApiKey``: an Ardent API key as a Pulumi resource, with its token as a secret output."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .provider import ArdentApiKeyProvider
from .resource_types import DYNAMIC_MODULE, DYNAMIC_NAME
from .state import INPUT_DOCS, INPUT_NAMES, OUTPUT_DOCS, OUTPUT_NAMES, SECRET_OUTPUTS


def _described(title: str, names: tuple[str, ...], docs: Mapping[str, str]) -> str:
    lines = [title]
    for property_name in names:
        lines.append(f"    {property_name}: {docs[property_name]}")
    return "\n".join(lines)


@dataclass
class ArdentApiKeyArgs:
    """Typed inputs of :class:`ArdentApiKey`.

    ``role`` is one of Viewer, Member, Admin, Owner (any case) or its key such as ``role_org_admin``;
    ``name`` defaults to the resource name; empty ``scopes`` grants all of the role's permissions;
    ``expires_in_days`` of None means the key never expires. ``rotate_before_days`` replaces the key on the
    first ``up`` that many days before it expires; any change in ``rotation_triggers`` replaces it at once;
    ``keep_previous_for_days`` keeps the replaced key valid (as ``previous_token``) for that long.
    ``adopt_key_id`` brings an existing key under management, with its token as ``adopt_token`` or, without
    it, as ``on_missing_token`` says: ``"error"`` (default), ``"rotate"`` or ``"keep"``. ``org_id`` puts the key in
    another org than ``ardent:orgId`` (its credentials from ``ardent:orgs.<org id>``); changing it replaces the key.
    ``sink`` (``{"aws_secrets_manager": {"secret_id": ..., "region": ..., "endpoint_url": ...}}``) writes the token
    to an AWS Secrets Manager secret instead of publishing it.
    """

    role: pulumi.Input[str]
    name: pulumi.Input[str] | None = None
    scopes: pulumi.Input[list[pulumi.Input[str]]] | None = None
    expires_in_days: pulumi.Input[int] | None = None
    rotate_before_days: pulumi.Input[int] | None = None
    rotation_triggers: pulumi.Input[Mapping[str, Any]] | None = None
    keep_previous_for_days: pulumi.Input[int] | None = None
    adopt_key_id: pulumi.Input[str] | None = None
    adopt_token: pulumi.Input[str] | None = None
    on_missing_token: pulumi.Input[str] | None = None
    org_id: pulumi.Input[str] | None = None
    sink: pulumi.Input[Mapping[str, Any]] | None = None


ArdentApiKeyArgs.__doc__ = f"{ArdentApiKeyArgs.__doc__}\n\n{_described('Inputs:', INPUT_NAMES, INPUT_DOCS)}\n"


class ArdentApiKey(Resource, module=DYNAMIC_MODULE, name=DYNAMIC_NAME):
    """An Ardent API key. Any change of input creates a new key before the old one is revoked.

    The resource id is the key id. ``token`` exists only once, in the create response; it is kept in the
    stack's state as a secret and is always marked secret, whatever options are passed.
    """

    key_id: pulumi.Output[str]
    name: pulumi.Output[str]
    role: pulumi.Output[str]
    scopes: pulumi.Output[list[str]]
    key_prefix: pulumi.Output[str]
    created_at: pulumi.Output[str]
    expires_at: pulumi.Output[str | None]
    status: pulumi.Output[str]
    token: pulumi.Output[str]
    token_fingerprint: pulumi.Output[str | None]
    previous_key_id: pulumi.Output[str | None]
    previous_token: pulumi.Output[str | None]
    previous_revoke_after: pulumi.Output[str | None]
    org_id: pulumi.Output[str]
    pending_revoke_key_ids: pulumi.Output[list[str]]
    sink_secret_arn: pulumi.Output[str | None]
    sink_version_id: pulumi.Output[str | None]

    def __init__(
        self,
        resource_name: str,
        args: ArdentApiKeyArgs | None = None,
        *,
        role: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        scopes: pulumi.Input[list[pulumi.Input[str]]] | None = None,
        expires_in_days: pulumi.Input[int] | None = None,
        rotate_before_days: pulumi.Input[int] | None = None,
        rotation_triggers: pulumi.Input[Mapping[str, Any]] | None = None,
        keep_previous_for_days: pulumi.Input[int] | None = None,
        adopt_key_id: pulumi.Input[str] | None = None,
        adopt_token: pulumi.Input[str] | None = None,
        on_missing_token: pulumi.Input[str] | None = None,
        org_id: pulumi.Input[str] | None = None,
        sink: pulumi.Input[Mapping[str, Any]] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare a key; pass either ``args`` or the keyword inputs (``role`` is required)."""
        keywords: dict[str, Any] = {
            "role": role,
            "name": name,
            "scopes": scopes,
            "expires_in_days": expires_in_days,
            "rotate_before_days": rotate_before_days,
            "rotation_triggers": rotation_triggers,
            "keep_previous_for_days": keep_previous_for_days,
            "adopt_key_id": adopt_key_id,
            "adopt_token": adopt_token,
            "on_missing_token": on_missing_token,
            "org_id": org_id,
            "sink": sink,
        }
        if args is not None:
            if any(value is not None for value in keywords.values()):
                raise TypeError("ArdentApiKey takes either args=ArdentApiKeyArgs(...) or keyword inputs, not both")
            keywords = {key: getattr(args, key) for key in keywords}
        if keywords["role"] is None:
            raise TypeError(f"ArdentApiKey '{resource_name}' needs a role, such as role=\"Admin\"")
        if keywords["name"] is None:
            keywords["name"] = resource_name
        if keywords["adopt_token"] is not None:
            keywords["adopt_token"] = pulumi.Output.secret(keywords["adopt_token"])
        props: dict[str, Any] = dict.fromkeys(OUTPUT_NAMES)
        parent = opts.parent if opts is not None else None
        # Tells apart keys of one name under different parents, so a replacement finds the key it replaces.
        # Plain text from the program, not the parent's URN: an Output of the parent would make the key
        # depend on its parent's children, itself included.
        parent_resource = (
            f"{getattr(parent, '_type', type(parent).__name__)}::{getattr(parent, '_name', '')}" if parent else None
        )
        props.update(keywords, resource_name=resource_name, parent_resource=parent_resource)
        secret_options = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        super().__init__(
            ArdentApiKeyProvider(),
            resource_name,
            props,
            pulumi.ResourceOptions.merge(opts, secret_options),
        )


ArdentApiKey.__doc__ = (
    f"{ArdentApiKey.__doc__}\n"
    f"    Declared as ArdentApiKey(resource_name, role=..., **inputs) or ArdentApiKey(resource_name, "
    f"ArdentApiKeyArgs(...)).\n\n{_described('Inputs:', INPUT_NAMES, INPUT_DOCS)}\n\n"
    f"{_described('Outputs:', OUTPUT_NAMES, OUTPUT_DOCS)}\n"
)
