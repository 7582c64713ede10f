"""Adoption: bring a key made by hand in the dashboard under management.

Ardent never shows a token again after creating it, so this example adopts without the token and lets the
provider rotate: it creates a replacement key with the same name, role and scopes, publishes its token as a
secret, and revokes the hand-made key once the new one exists. Pass `adopt_token=` instead when you still
hold the old token, or `on_missing_token="keep"` to manage the key without publishing a token.

    pulumi config set adopt_key_id key_…
"""

import pulumi

from ardent_provider import ArdentApiKey

config = pulumi.Config()

key = ArdentApiKey(
    "dashboard-key",
    role="Member",
    adopt_key_id=config.require("adopt_key_id"),
    on_missing_token="rotate",  # noqa: S106 - an option value, not a password
)

pulumi.export("dashboard_key_token", key.token)
pulumi.export("dashboard_key_id", key.key_id)
