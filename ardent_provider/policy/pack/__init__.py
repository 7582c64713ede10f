"""The Ardent policy pack's directory: ``python -u -m pulumi.policy <engine address> <this directory>`` serves it.

Only the program (``__main__.py``) lives here, because ``pulumi.policy`` puts this directory first on
``sys.path`` while it runs the pack.
"""
