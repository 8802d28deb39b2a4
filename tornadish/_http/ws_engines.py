"""Which WebSocket engine parses frames: wsproto (pure Python, always there) or the
``websockets`` library's sans-IO protocol (C unmasking; ``pip install tornadish[speed]``).

``"auto"`` (the default) takes ``websockets`` where it can be imported, else wsproto;
the environment variable ``TORNADISH_WS`` sets the default for every server and client
that is not told (as ``TORNADISH_HTTP`` does for the HTTP/1.1 engine, see
:mod:`.engines`). Both sessions speak :mod:`.ws_events`; what they cannot make alike
is listed in :mod:`.ws_websockets`. Rules of this module: it imports no engine until one
is asked for, so choosing costs nothing at start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final, Literal, Protocol

from tornadish._http.engines import choose_engine
from tornadish._http.websocket import DeflateAgreement
from tornadish._http.ws_events import WebSocketEvent

__all__ = [
    "WS_ENGINES",
    "WebSocketSessionType",
    "WsEngineName",
    "resolve_ws",
    "ws_session_class",
]

WS_ENGINES: Final = ("auto", "wsproto", "websockets")
WsEngineName = Literal["wsproto", "websockets"]


class WebSocketSessionType(Protocol):
    """What the WebSocket connection needs of an engine's session (both have it all)."""

    def __init__(
        self, client: bool, max_message_size: int | None, deflate: DeflateAgreement | None
    ) -> None: ...
    def receive_data(self, data: bytes) -> None:
        """Take bytes from the peer (ignored once the session has ended)."""

    def events(self) -> Iterator[WebSocketEvent]:
        """What the bytes so far make, in order; stopping midway leaves the rest for
        the next call."""

    def send_close(self, code: int, reason: str | None = None) -> bytes:
        """The close frame to write with ``code`` (1005: an empty frame) and ``reason``
        (to start the closing handshake, answer the peer's close, or fail); b"" if no
        close frame may be sent any more."""


def resolve_ws(ws: str | None = None) -> WsEngineName:
    """The engine to use for ``ws`` (``None``: ``TORNADISH_WS``, else ``"auto"``).

    Raises ``ValueError`` for an unknown name, and ``ImportError`` naming the extra to
    install when ``"websockets"`` is asked for and is not installed.

    >>> resolve_ws("wsproto")
    'wsproto'
    """
    engine = choose_engine("ws", ws, "TORNADISH_WS", WS_ENGINES, "websockets", "wsproto")
    return engine  # type: ignore[return-value]


def ws_session_class(engine: WsEngineName) -> type[WebSocketSessionType]:
    """The session class of ``engine`` (imported on first use)."""
    if engine == "websockets":
        from tornadish._http.ws_websockets import WebsocketsSession

        return WebsocketsSession
    from tornadish._http.ws_wsproto import WsprotoSession

    return WsprotoSession
