"""The engine floor: a dynamic provider that does nothing and returns at once."""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider

from ardent_provider.state import INPUT_NAMES, OUTPUT_NAMES, SECRET_OUTPUTS


class NoopProvider(ResourceProvider):
    """Creates, reads and deletes nothing; echoes its inputs so state has the same shape as a key's."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"noop_{uuid.uuid4().hex}", {k: v for k, v in props.items() if k != "__provider"})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {key: value for key, value in props.items() if key != "__provider"})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class NoopKey(Resource, module="bench", name="Noop"):
    """A resource with the same properties and secret outputs as ArdentApiKey, served by NoopProvider."""

    name: pulumi.Output[str]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        props: dict[str, Any] = dict.fromkeys((*OUTPUT_NAMES, *INPUT_NAMES))
        props.update(name=resource_name, role="role_org_viewer", scopes=[], resource_name=resource_name)
        secret = pulumi.ResourceOptions(additional_secret_outputs=list(SECRET_OUTPUTS))
        super().__init__(NoopProvider(), resource_name, props, pulumi.ResourceOptions.merge(opts, secret))
