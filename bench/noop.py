"""The engine floor: a dynamic provider that does nothing and returns at once."""

from __future__ import annotations

import uuid
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, ResourceProvider


class NoopProvider(ResourceProvider):
    """Creates, reads and deletes nothing."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        return CreateResult(f"noop_{uuid.uuid4().hex}", {"name": props.get("name")})

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        return DiffResult(changes=False)

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        return ReadResult(id_, {key: value for key, value in props.items() if key != "__provider"})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        return None


class NoopKey(Resource, module="bench", name="Noop"):
    """A resource of the same shape as a key, served by :class:`NoopProvider`."""

    name: pulumi.Output[str]

    def __init__(self, resource_name: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(NoopProvider(), resource_name, {"name": resource_name}, opts)
