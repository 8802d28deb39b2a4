"""tornadish: a Tornado-shaped web framework on asyncio, h11, wsproto and Jinja2.

Import from the modules, as with Tornado: ``from tornadish.web import Application``.
"""

version = "0.1.0"
version_info = (0, 1, 0, 0)

__all__ = ["version", "version_info"]
