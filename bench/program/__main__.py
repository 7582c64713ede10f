"""The benchmark's program: N ArdentApiKey resources, N native ardent.ApiKey resources, or N no-op resources."""

import pickle

import pulumi

from ardent_provider import ArdentApiKey
from bench.noop import NoopKey

config = pulumi.Config()
count = config.require_int("count")
# pulumi's serialize_provider wraps this method once more per dynamic resource and never unwraps it (see
# bench/pickling.py); at N near 1,000 the nesting ends in RecursionError. Only the rss part asks for the reset.
unwrapped = pickle._Pickler._batch_setitems if config.get_bool("resetPickler") else None  # type: ignore[attr-defined]
for index in range(count):
    if unwrapped is not None:
        pickle._Pickler._batch_setitems = unwrapped  # type: ignore[attr-defined]
    if config.require("kind") == "ardent":
        ArdentApiKey(f"bench-{index:04d}", role="Viewer")
    elif config.require("kind") == "native":
        import pulumi_ardent

        pulumi_ardent.ApiKey(f"bench-{index:04d}", role="Viewer")
    else:
        NoopKey(f"bench-{index:04d}")
