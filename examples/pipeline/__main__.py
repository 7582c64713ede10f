"""Pipeline: the key a deployment job manages; `deploy.py` deploys it and hands its token to the next step.

The key is replaced by the first deploy in the last 14 days of its 90, so a job that runs at least every
two weeks always hands on a token with more than two weeks left.
"""

import pulumi

from ardent_provider import ArdentApiKey

deployer = ArdentApiKey(
    "ci-deployer",
    role="Member",
    scopes=["projects.read", "projects.write"],
    expires_in_days=90,
    rotate_before_days=14,
)

pulumi.export("ci_deployer_token", deployer.token)
pulumi.export("ci_deployer_key_id", deployer.key_id)
pulumi.export("ci_deployer_expires_at", deployer.expires_at)
