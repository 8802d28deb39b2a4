"""``static_url`` for request handlers (a mixin of ``RequestHandler``).

Kept apart from :mod:`tornadish._web.static`, whose ``StaticFileHandler`` is itself a
``RequestHandler``: the handler module imports this one, so this one does not import the
static module; the application says which class serves static files.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tornadish._http.request import HTTPServerRequest
    from tornadish._web.application import Application

__all__ = ["StaticURLMixin"]


class StaticURLMixin:
    """Adds :meth:`static_url` to request handlers."""

    if TYPE_CHECKING:
        request: HTTPServerRequest
        application: Application

        @property
        def settings(self) -> dict[str, Any]: ...

        def require_setting(self, name: str, feature: str = ...) -> None: ...

    def static_url(self, path: str, include_host: bool | None = None, **kwargs: Any) -> str:
        """The URL of static file ``path`` (relative to the ``static_path`` setting).

        The URL carries a ``?v=`` content hash, so browsers may cache the file for as
        long as it does not change (versioned requests are answered with long cache
        headers); the hash is computed once per file (each time when
        ``static_hash_cache`` is false, which ``debug`` implies). ``include_host=True``
        (or an ``include_host`` attribute on the handler) makes the URL absolute. Other
        keyword arguments go to the static handler class's ``make_static_url``.

        >>> self.static_url("css/site.css")                      # doctest: +SKIP
        '/static/css/site.css?v=4d8e...'
        """
        self.require_setting("static_path", "static_url")
        handler_class = self.application.static_handler_class
        url: str = handler_class.make_static_url(self.settings, path, **kwargs)
        if include_host is None:
            include_host = getattr(self, "include_host", False)
        if include_host:
            return f"{self.request.protocol}://{self.request.host}{url}"
        return url
