"""``python -m ardent_provider.native <engine address>``: the plugin, as the plugin archive's launcher starts it."""

from . import main

main()
