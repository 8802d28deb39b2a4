"""Which HTTP/1.1 engine parses: h11 (pure Python, always there) or httptools (llhttp,
C; ``pip install tornadish[speed]``).

``"auto"`` (the default) takes httptools where it can be imported, else h11; the
environment variable ``TORNADISH_HTTP`` sets the default for every server and client
that is not told. Both engines answer every request the same way (see
:mod:`.httptools_session`), so the choice is about speed only.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from typing import Final, Literal, Protocol

from tornadish._http.client_session import ClientSessionType
from tornadish._http.session import Event

__all__ = [
    "HTTP_ENGINES",
    "ServerSessionType",
    "choose_engine",
    "client_session_class",
    "installed",
    "resolve_http",
    "server_session_class",
]

HTTP_ENGINES: Final = ("auto", "h11", "httptools")
EngineName = Literal["h11", "httptools"]


class ServerSessionType(Protocol):
    """What the server's protocol needs of an engine's session (both have it all)."""

    def __init__(self, max_header_size: int, max_url_size: int) -> None: ...
    @property
    def partial_head(self) -> int: ...
    def receive_data(self, data: bytes) -> None: ...
    def next_event(self) -> Event: ...
    @property
    def expecting_continue(self) -> bool: ...
    @property
    def has_buffered_data(self) -> bool: ...
    def detach(self) -> tuple[bytes, bool]: ...
    def continue_response(self) -> bytes: ...
    def response_head(
        self, status: int, reason: str, headers: list[tuple[bytes, bytes]]
    ) -> bytes: ...
    def whole_response(
        self, status: int, reason: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> bytes | None: ...
    def response_data(self, data: bytes) -> bytes: ...
    def response_end(self) -> bytes: ...
    def accept_upgrade(self, headers: list[tuple[bytes, bytes]]) -> tuple[bytes, bytes]: ...
    def error_response(self, status: int, reason: str) -> bytes: ...
    def next_cycle(self) -> bool: ...


@functools.cache
def installed(package: str) -> bool:
    """``package`` can be imported (looked up once)."""
    return importlib.util.find_spec(package) is not None


def choose_engine(
    kind: str, choice: str | None, env: str, names: tuple[str, ...], fast: str, slow: str
) -> str:
    """The engine ``choice`` names for ``kind`` (``None``: environment variable ``env``,
    else ``"auto"``): ``"auto"`` is ``fast`` where its package is installed, else
    ``slow``. ``ValueError`` for a name not in ``names``; ``ImportError`` naming the extra
    to install when ``fast`` is asked for and is not installed."""
    name = choice if choice is not None else os.environ.get(env) or "auto"
    name = name.strip().lower()
    if name not in names:
        raise ValueError(f"{kind} engine must be one of {', '.join(names)}; not {name!r}")
    if name == "auto":
        return fast if installed(fast) else slow
    if name == fast and not installed(fast):
        raise ImportError(
            f"{kind}={fast!r} needs the {fast} package: pip install 'tornadish[speed]'"
        )
    return name


def resolve_http(http: str | None = None) -> EngineName:
    """The engine to use for ``http`` (``None``: ``TORNADISH_HTTP``, else ``"auto"``).

    Raises ``ValueError`` for an unknown name, and ``ImportError`` naming the extra to
    install when ``"httptools"`` is asked for and is not installed.
    """
    engine = choose_engine("http", http, "TORNADISH_HTTP", HTTP_ENGINES, "httptools", "h11")
    return engine  # type: ignore[return-value]


def server_session_class(engine: EngineName) -> type[ServerSessionType]:
    """The session class of ``engine`` (imported on first use)."""
    if engine == "httptools":
        from tornadish._http.httptools_session import HttptoolsSession

        return HttptoolsSession
    from tornadish._http.h11_session import ServerSession

    return ServerSession


def client_session_class(engine: EngineName) -> type[ClientSessionType]:
    """The client session class of ``engine`` (imported on first use)."""
    if engine == "httptools":
        from tornadish._http.httptools_client import HttptoolsClientSession

        return HttptoolsClientSession
    from tornadish._http.h11_client import H11ClientSession

    return H11ClientSession
