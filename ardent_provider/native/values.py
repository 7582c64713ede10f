"""Pulumi's property values (the native provider protocol) to and from this package's plain dicts.

Plain dicts use :mod:`ardent_provider.state`'s names and its :data:`~ardent_provider.state.UNKNOWN` marker;
property maps use the schema's camelCase names, :class:`PropertyValue` wrappers, secrets and computed values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pulumi.provider.experimental.property_value import Computed, PropertyValue
from pulumi.runtime.rpc import UNKNOWN as UNKNOWN_ON_THE_WIRE

from ..state import CAMEL_NAMES, SINK_INPUT, UNKNOWN, Unknown, camel_keys, snake_properties

PropertyMap = Mapping[str, PropertyValue]


def plain(value: PropertyValue) -> Any:
    """A property value as plain Python: secrets unwrapped, computed values as ``UNKNOWN``."""
    inner = value.value
    # An unknown inside an output value (a whole list computed by another resource) arrives in its wire form.
    if isinstance(inner, Computed) or inner == UNKNOWN_ON_THE_WIRE:
        return UNKNOWN
    if isinstance(inner, Mapping):
        return {key: plain(item) for key, item in inner.items()}
    if isinstance(inner, tuple | list):
        return [plain(item) for item in inner]
    return inner


def plain_map(props: PropertyMap) -> dict[str, Any]:
    """A property map as a plain dict with this package's names."""
    return snake_properties({name: plain(value) for name, value in props.items()})


def secret_names(props: PropertyMap) -> set[str]:
    """The properties (this package's names) whose value is, or holds, a secret."""
    return set(snake_properties({name: value for name, value in props.items() if value.contains_secret()}))


def property_value(value: Any, *, secret: bool = False) -> PropertyValue:
    """A plain value as a property value; whole numbers become Pulumi's floats."""
    if isinstance(value, Unknown):
        # The wire form of an unknown value: this SDK's marshal() cannot write PropertyValue.computed().
        wrapped = PropertyValue(UNKNOWN_ON_THE_WIRE)
    elif isinstance(value, bool) or value is None or isinstance(value, str):
        wrapped = PropertyValue(value)
    elif isinstance(value, int | float):
        wrapped = PropertyValue(float(value))
    elif isinstance(value, Mapping):
        wrapped = PropertyValue({str(key): property_value(item) for key, item in value.items()})
    elif isinstance(value, list | tuple):
        wrapped = PropertyValue([property_value(item) for item in value])
    else:
        raise TypeError(f"no property value for {type(value).__name__}")
    return wrapped.with_secret(True) if secret else wrapped


def property_map(
    values: Mapping[str, Any], names: Iterable[str], secrets: Iterable[str] = ()
) -> dict[str, PropertyValue]:
    """The given properties (this package's names) that have a value, camelCased, ``secrets`` marked secret."""
    secret = set(secrets)
    return {
        # The sink's own fields are properties of the schema's types too: camelCased like the resource's.
        CAMEL_NAMES[name]: property_value(
            camel_keys(values[name]) if name == SINK_INPUT else values[name], secret=name in secret
        )
        for name in names
        if values.get(name) is not None
    }
