"""The benchmark's program: N ArdentApiKey resources, or N no-op resources of the same shape."""

import pulumi

from ardent_provider import ArdentApiKey
from bench.noop import NoopKey

config = pulumi.Config()
count = config.require_int("count")
for index in range(count):
    if config.require("kind") == "ardent":
        ArdentApiKey(f"bench-{index:04d}", role="Viewer")
    else:
        NoopKey(f"bench-{index:04d}")
