"""Quickstart: one Ardent API key with the Admin role; its token is published as an encrypted stack output."""

import pulumi

from ardent_provider import ArdentApiKey

key = ArdentApiKey("Production-Test", role="Admin")

pulumi.export("production_test_token", key.token)
pulumi.export("production_test_key_id", key.key_id)
pulumi.export("production_test_role", key.role)
pulumi.export("production_test_key_prefix", key.key_prefix)
pulumi.export("production_test_status", key.status)
pulumi.export("production_test_created_at", key.created_at)
