"""Rotation: a 90-day key replaced 14 days before it expires, or whenever the `rotation` config value changes.

The replaced key stays valid for 2 more days as `previous_token`, so consumers can switch over without
downtime; a later `pulumi up` after those days revokes it.

    pulumi config set rotation 2026-12   # any new value rotates the key on the next `pulumi up`
"""

import pulumi

from ardent_provider import ArdentApiKey

config = pulumi.Config()

key = ArdentApiKey(
    "ci-deployer",
    role="Member",
    scopes=["projects.read", "projects.write", "connectors.read"],
    expires_in_days=90,
    rotate_before_days=14,
    keep_previous_for_days=2,
    rotation_triggers={"rotation": config.get("rotation") or "initial"},
)

pulumi.export("ci_deployer_token", key.token)
pulumi.export("ci_deployer_previous_token", key.previous_token)
pulumi.export("ci_deployer_token_fingerprint", key.token_fingerprint)
pulumi.export("ci_deployer_expires_at", key.expires_at)
