"""``ArdentApiKey``: an Ardent API key as a Pulumi resource, with its token as a secret output."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.dynamic import Resource

from .provider import ArdentApiKeyProvider

SECRET_OUTPUTS = ("token",)
OUTPUT_NAMES = (
    "key_id",
    "name",
    "role",
    "scopes",
    "key_prefix",
    "created_at",
    "expires_at",
    "status",
    "token",
)


@dataclass
class ArdentApiKeyArgs:
    """Typed inputs of :class:`ArdentApiKey`.

    ``role`` is one of Viewer, Member, Admin, Owner (any case) or its key such as ``role_org_admin``;
    ``name`` defaults to the resource name; empty ``scopes`` grants all of the role's permissions;
    ``expires_in_days`` of None means the key never expires.
    """

    role: pulumi.Input[str]
    name: pulumi.Input[str] | None = None
    scopes: pulumi.Input[list[pulumi.Input[str]]] | None = field(default=None)
    expires_in_days: pulumi.Input[int] | None = None


class ArdentApiKey(Resource, module="ardent", name="ApiKey"):
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

    def __init__(
        self,
        resource_name: str,
        args: ArdentApiKeyArgs | None = None,
        *,
        role: pulumi.Input[str] | None = None,
        name: pulumi.Input[str] | None = None,
        scopes: pulumi.Input[list[pulumi.Input[str]]] | None = None,
        expires_in_days: pulumi.Input[int] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        """Declare a key; pass either ``args`` or the keyword inputs (``role`` is required)."""
        if args is not None:
            if any(value is not None for value in (role, name, scopes, expires_in_days)):
                raise TypeError("ArdentApiKey takes either args=ArdentApiKeyArgs(...) or keyword inputs, not both")
            role, name, scopes, expires_in_days = args.role, args.name, args.scopes, args.expires_in_days
        if role is None:
            raise TypeError(f"ArdentApiKey '{resource_name}' needs a role, such as role=\"Admin\"")
        props: dict[str, Any] = dict.fromkeys(OUTPUT_NAMES)
        props.update(
            name=resource_name if name is None else name,
            role=role,
            scopes=scopes,
            expires_in_days=expires_in_days,
        )
        secret_options = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        super().__init__(
            ArdentApiKeyProvider(),
            resource_name,
            props,
            pulumi.ResourceOptions.merge(opts, secret_options),
        )
