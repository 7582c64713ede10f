"""``python -m ardent_provider.native <engine address>``: the plugin, started by an interpreter rather than a script."""

from . import main

main()
