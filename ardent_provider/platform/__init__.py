"""The platform team's commands (``ardent-keys``), as a library: reading stacks and orgs, drift, revoke, audit.

``stacks`` reads projects and stacks through the user's ``pulumi``; ``orgs`` chooses each org's credentials and
lists its keys; ``drift``, ``revoke`` and ``audit`` decide; ``render`` formats times and tables; ``audit_html``
draws the audit page. :mod:`ardent_provider.cli` only parses arguments and picks exit codes.
"""
