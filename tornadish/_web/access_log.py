"""The access log's lines: Tornado's text line and the JSON line (``log_format="json"``).

Rules of this module:

1. One record per request on ``tornadish.access``, at the level Tornado uses: INFO below
   400, WARNING below 500, ERROR from 500 on. Whether that level is enabled is asked
   first, so a silenced access log costs nothing more.
2. The JSON line is one JSON object, the record's message, and its fields are also the
   record's attributes (``LogRecord`` extras), so a JSON formatter (python-json-logger,
   structlog's stdlib bridge...) sees them as fields of its own: ``time`` (when the
   request arrived, ISO 8601 UTC), ``method``, ``path`` (no query string: queries carry
   tokens), ``status``, ``bytes`` (response body bytes sent, after compression),
   ``duration_ms``, ``remote_ip``, ``user_agent``, ``route`` (the route's name, else its
   pattern; null when no route matched) and ``request_id``.
3. :func:`log_text` writes the very line ``Application.log_request`` writes when
   nothing observes requests (a test keeps the two equal); it is repeated here so that
   the request path with every observability feature off has no call more.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import TYPE_CHECKING, Any

from tornadish.log import access_log

if TYPE_CHECKING:
    from tornadish._web.handler import RequestHandler

__all__ = ["FIELDS", "access_fields", "level_for", "log_json", "log_text"]

# Made once: json.dumps with arguments makes an encoder per call.
_ENCODE = json.JSONEncoder(separators=(",", ":")).encode

#: The fields of a JSON access line, in order.
FIELDS = (
    "time",
    "method",
    "path",
    "status",
    "bytes",
    "duration_ms",
    "remote_ip",
    "user_agent",
    "route",
    "request_id",
)


def level_for(status: int) -> int:
    """The level of a request's line: INFO below 400, WARNING below 500, else ERROR."""
    if status < 400:
        return logging.INFO
    if status < 500:
        return logging.WARNING
    return logging.ERROR


def log_text(handler: RequestHandler) -> None:
    """Tornado's line: ``200 GET /path?q=1 (127.0.0.1) 1.23ms``."""
    status = handler.get_status()
    level = level_for(status)
    if access_log.isEnabledFor(level):
        request_time = 1000.0 * handler.request.request_time()
        access_log.log(level, "%d %s %.2fms", status, handler._request_summary(), request_time)


def access_fields(handler: RequestHandler, route: str | None, bytes_sent: int) -> dict[str, Any]:
    """The fields of ``handler``'s JSON line (see the module's rules)."""
    request = handler.request
    started = request._start_time
    return {
        "time": _utc(started),
        "method": request.method,
        "path": request.path,
        "status": handler.get_status(),
        "bytes": bytes_sent,
        "duration_ms": round(1000.0 * request.request_time(), 3),
        "remote_ip": request.remote_ip,
        "user_agent": request.headers.get("User-Agent"),
        "route": route,
        "request_id": request.id,
    }


def log_json(handler: RequestHandler, route: str | None, bytes_sent: int) -> None:
    """Write ``handler``'s JSON line (its fields also as the record's extras)."""
    level = level_for(handler.get_status())
    if access_log.isEnabledFor(level):
        fields = access_fields(handler, route, bytes_sent)
        # The message is the JSON itself, with no arguments: a % in a path is not a
        # format directive then.
        access_log.log(level, _ENCODE(fields), extra=fields)


def _utc(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
