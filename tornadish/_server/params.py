"""Server settings, resolved once per ``HTTPServer`` and shared by all its connections,
with the server's graceful drain (:class:`~tornadish._io.drain.Drain`)."""

from __future__ import annotations

import importlib.util

from tornadish._http.engines import (
    EngineName,
    ServerSessionType,
    resolve_http,
    server_session_class,
)
from tornadish._http.ws_engines import WsEngineName, resolve_ws
from tornadish._io.drain import Drain

__all__ = ["ServerParams"]

KiB = 1024
MiB = 1024 * KiB


class ServerParams:
    """Limits and timeouts for one server (one small object, referenced by every
    connection, so per-connection memory stays flat).

    Defaults follow Tornado where it has one, and common server practice where it has
    none: 64 KiB of request head (431 beyond), 8 KiB of request line (414), 100 MiB of
    body (400), one hour of keep-alive idleness, 60 s to send a request head (against
    slowloris) and 60 s of silence in the middle of a body; past those 60 s a body must
    also average 240 bytes/s (``min_body_rate``), against bodies trickled a byte at a
    time to hold a connection (R.U.D.Y.). ``http`` picks the engine
    (:func:`~tornadish._http.engines.resolve_http`), ``ws`` the WebSocket one
    (:func:`~tornadish._http.ws_engines.resolve_ws`). ``http2`` serves HTTP/2 as well
    (prior knowledge and ``Upgrade: h2c`` on cleartext, ALPN over TLS; needs the
    ``h2`` library, the ``http2`` extra), each connection bounded by:

    - ``h2_max_concurrent_streams`` (100, advertised): a stream past it is refused
      (RST_STREAM ``REFUSED_STREAM``); twice it in flight is a connection error.
    - ``max_header_size``, advertised as the header list size: a request over it is
      answered 431; one that decodes past twice it (an HPACK bomb) gets GOAWAY
      ``ENHANCE_YOUR_CALM``.
    - ``h2_max_frame_size`` (16 KiB, advertised; 16 KiB to 16 MiB - 1): a larger frame
      is a connection error ``FRAME_SIZE_ERROR``.
    - ``h2_max_resets`` (200) streams reset by the client (or refused) in 10 s, and
      ``h2_max_control_frames`` (1000) PINGs, SETTINGS and empty DATA frames in 10 s:
      past either, GOAWAY ``ENHANCE_YOUR_CALM`` (Rapid Reset; PING, SETTINGS and
      empty-frame floods).
    - ``h2_ping_interval`` (60 s): a client silent that long is sent a PING, and
      dropped if it does not answer within ``h2_ping_timeout`` (20 s); 0 sends none.
    - ``h2_window_timeout`` (60 s): a response that waited that long for the client
      to open its flow-control window is reset, and the connection dropped if its own
      window stayed shut (zero-window slow read).
    """

    __slots__ = (
        "body_timeout",
        "decompress",
        "drain",
        "h2_max_concurrent_streams",
        "h2_max_control_frames",
        "h2_max_frame_size",
        "h2_max_resets",
        "h2_ping_interval",
        "h2_ping_timeout",
        "h2_window_timeout",
        "header_timeout",
        "http",
        "http2",
        "idle_connection_timeout",
        "max_body_size",
        "max_header_size",
        "max_url_size",
        "min_body_rate",
        "no_keep_alive",
        "scheme",
        "session_class",
        "trusted_downstream",
        "write_buffer_limits",
        "ws",
        "xheaders",
    )

    def __init__(
        self,
        *,
        max_header_size: int | None = None,
        max_url_size: int | None = None,
        max_body_size: int | None = None,
        idle_connection_timeout: float | None = None,
        header_timeout: float | None = None,
        body_timeout: float | None = None,
        no_keep_alive: bool = False,
        xheaders: bool = False,
        trusted_downstream: list[str] | None = None,
        scheme: str = "http",
        decompress: bool = False,
        write_buffer_limits: tuple[int, int] | None = None,
        min_body_rate: float | None = None,
        http: str | None = None,
        ws: str | None = None,
        http2: bool = False,
        h2_max_concurrent_streams: int | None = None,
        h2_max_resets: int | None = None,
        h2_max_frame_size: int | None = None,
        h2_max_control_frames: int | None = None,
        h2_ping_interval: float | None = None,
        h2_ping_timeout: float | None = None,
        h2_window_timeout: float | None = None,
    ) -> None:
        if http2 and importlib.util.find_spec("h2") is None:
            raise RuntimeError("http2=True needs the h2 library: pip install 'tornadish[http2]'")
        #: Serve HTTP/2 too (prior knowledge and ALPN ``h2``).
        self.http2 = http2
        self.h2_max_concurrent_streams = h2_max_concurrent_streams or 100
        self.h2_max_resets = h2_max_resets or 200
        self.h2_max_frame_size = h2_max_frame_size or 16 * KiB
        if not 16 * KiB <= self.h2_max_frame_size < 16 * MiB:
            # RFC 9113 §6.5.2: what SETTINGS_MAX_FRAME_SIZE may say.
            raise ValueError("h2_max_frame_size must be from 16384 to 16777215")
        self.h2_max_control_frames = h2_max_control_frames or 1000
        self.h2_ping_interval = 60.0 if h2_ping_interval is None else h2_ping_interval
        self.h2_ping_timeout = 20.0 if h2_ping_timeout is None else h2_ping_timeout
        self.h2_window_timeout = 60.0 if h2_window_timeout is None else h2_window_timeout
        #: The HTTP/1.1 engine (``"h11"`` or ``"httptools"``), resolved from ``http``.
        self.http: EngineName = resolve_http(http)
        self.session_class: type[ServerSessionType] = server_session_class(self.http)
        #: The WebSocket engine (``"wsproto"`` or ``"websockets"``), resolved from ``ws``.
        self.ws: WsEngineName = resolve_ws(ws)
        self.max_header_size = max_header_size or 64 * KiB
        self.max_url_size = max_url_size or 8 * KiB
        self.max_body_size = max_body_size if max_body_size is not None else 100 * MiB
        self.idle_connection_timeout = (
            3600.0 if idle_connection_timeout is None else idle_connection_timeout
        )
        self.header_timeout = 60.0 if header_timeout is None else header_timeout
        self.body_timeout = 60.0 if body_timeout is None else body_timeout
        self.min_body_rate = 240.0 if min_body_rate is None else min_body_rate
        self.no_keep_alive = no_keep_alive
        self.xheaders = xheaders
        self.trusted_downstream = set(trusted_downstream or ())
        self.scheme = scheme
        self.decompress = decompress
        self.write_buffer_limits = write_buffer_limits
        #: The server's graceful drain: its start signal and the handler tasks it waits
        #: for (one object, so every connection reaches it).
        self.drain = Drain()
