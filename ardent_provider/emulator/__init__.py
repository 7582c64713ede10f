"""A local emulator of Ardent's API-key endpoints, held to the vendor's published contract.

It shares no code with the provider side and meets it only on the wire. Start it with
``python -m ardent_provider.emulator`` or embed it with :class:`EmulatorServer`.
"""

from .app import ROUTES, EmulatorApp, Request, Response
from .server import FIXED_TOKEN_VARIABLE, EmulatorServer

__all__ = ["FIXED_TOKEN_VARIABLE", "ROUTES", "EmulatorApp", "EmulatorServer", "Request", "Response"]
