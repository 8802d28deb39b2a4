"""The request-parsing path as one pure function, for the fuzzers.

:func:`parse_requests` drives bytes through everything the server does to a request
before a handler runs — the engine's session (h11's or httptools': ``session_class``,
else what ``TORNADISH_HTTP`` picks), the header model, ``HTTPServerRequest``, query
arguments, cookies, routing with path-argument decoding, and urlencoded / multipart
body parsing (multipart through the same spooling parser the dispatcher uses) — with
no socket and no event loop.

The contract it checks is the server's: client bytes may only end in a
:class:`ProtocolError` carrying a 4xx/501 status, or in an ``HTTPInputError`` /
``HTTPError(400)`` that the web layer answers with 400. Any other exception escaping
:func:`parse_requests` is a bug (the server would answer 500 or log a traceback).
Used by the hypothesis tests and by the atheris script next to this file.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from typing import Any

from tornadish import escape
from tornadish._http.engines import ServerSessionType, resolve_http, server_session_class
from tornadish._http.headers import HTTPHeaders, HTTPInputError
from tornadish._http.session import (
    CLOSED,
    END,
    NEED_DATA,
    PAUSED,
    ProtocolError,
    RequestHead,
)
from tornadish._web.uploads import MultipartUpload
from tornadish.httputil import HTTPServerRequest
from tornadish.web import Application, HTTPError, RequestHandler

#: The statuses malformed input may earn at the protocol level.
CLIENT_ERROR_STATUSES = frozenset({400, 408, 413, 414, 431, 501, 505})


class _Nothing(RequestHandler):
    pass


# Routes of the shapes applications use: literal, groups, named groups, a catch-all.
ROUTES_APP = Application(
    [
        (r"/", _Nothing),
        (r"/user/([0-9]+)", _Nothing),
        (r"/files/(.*)", _Nothing),
        (r"/(?P<year>[0-9]{4})/(?P<slug>[^/]+)/?", _Nothing),
        (r"/api/v1/([a-z]+)/([^/]+)", _Nothing),
    ]
)


@dataclass
class Parsed:
    """What one request turned into (for differential checks)."""

    method: str
    target: str
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    query: dict[str, list[bytes]] = field(default_factory=dict)
    body_arguments: dict[str, list[bytes]] = field(default_factory=dict)
    files: dict[str, list[tuple[str, bytes]]] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)
    body_error: str | None = None


@dataclass
class Outcome:
    """All requests read from the input, and how it ended."""

    requests: list[Parsed] = field(default_factory=list)
    #: The status of the protocol error that ended the input, if any.
    status: int | None = None


def _start_request(head: RequestHead, threshold: int, tmp_dir: str) -> _InFlight:
    # What the dispatcher does at head time.
    headers = HTTPHeaders.from_raw(head.headers)
    request = HTTPServerRequest.from_wire(head.method, head.target, head.version, headers, None)
    upload = None
    ctype = headers.get("Content-Type", "")
    if ctype.startswith("multipart/form-data"):
        upload = MultipartUpload(
            ctype, headers, request.body_arguments, request.files, threshold, tmp_dir
        )
    return _InFlight(Parsed(head.method, head.target, list(head.headers)), request, upload)


@dataclass
class _InFlight:
    parsed: Parsed
    request: HTTPServerRequest
    upload: MultipartUpload | None


def _finish_request(flight: _InFlight) -> None:
    # What the dispatcher and RequestHandler._execute do once the body is in, and what
    # handlers touch first: query arguments, cookies, the host, routing.
    parsed, request, upload = flight.parsed, flight.request, flight.upload
    request.body = parsed.body
    parsed.query = request.query_arguments
    parsed.cookies = {name: m.value for name, m in request.cookies.items()}
    request.full_url()
    routed: Any = ROUTES_APP.find_handler(request)
    try:
        for arg in routed.path_args:
            if arg is not None:
                _decode(arg)
        for arg in routed.path_kwargs.values():
            if arg is not None:
                _decode(arg)
        if upload is not None:
            request.body = upload.end()
            upload.check()
        elif request.body:
            request.parse_body()
        _ = request.arguments  # merged query + body arguments, as get_argument reads them
    except (HTTPInputError, HTTPError) as e:
        if isinstance(e, HTTPError):
            assert e.status_code == 400, e
        parsed.body_error = str(e)
    parsed.body_arguments = request.body_arguments
    parsed.files = {
        name: [(f.filename, f.body) for f in files] for name, files in request.files.items()
    }
    if upload is not None:
        upload.close()


def _decode(value: bytes) -> str:
    # RequestHandler.decode_argument: bad UTF-8 is a 400.
    try:
        return escape.to_unicode(value)
    except UnicodeDecodeError:
        raise HTTPError(400, "Invalid unicode") from None


def parse_requests(
    pieces: list[bytes],
    *,
    eof: bool = True,
    max_header_size: int = 4096,
    max_url_size: int = 1024,
    spool_threshold: int = 64,
    tmp_dir: str | None = None,
    max_requests: int = 8,
    session_class: type[ServerSessionType] | None = None,
) -> Outcome:
    """Feed ``pieces`` (one read each) to a fresh session, as the server would.

    Returns the requests read and the status of the protocol error that ended the
    input. Raises only what the server could not turn into an HTTP answer: a bug.
    """
    if session_class is None:
        session_class = server_session_class(resolve_http())
    session = session_class(max_header_size, max_url_size)
    out = Outcome()
    pending = list(pieces)
    if eof:
        pending.append(b"")
    flight: _InFlight | None = None
    tmp = tmp_dir or tempfile.gettempdir()
    try:
        while True:
            ev = session.next_event()
            if isinstance(ev, RequestHead):
                flight = _start_request(ev, spool_threshold, tmp)
            elif isinstance(ev, bytes):
                assert flight is not None
                flight.parsed.body += ev
                if flight.upload is not None:
                    flight.upload.feed(ev)
            elif ev is END:
                assert flight is not None
                _finish_request(flight)
                out.requests.append(flight.parsed)
                flight = None
                # Answer (as an unrouted request would be) before reading on, as the
                # server does, then go on with the next pipelined request.
                session.response_head(404, "Not Found", [(b"Content-Length", b"0")])
                session.response_end()
                if not session.next_cycle() or len(out.requests) >= max_requests:
                    return out
            elif ev is PAUSED:
                raise AssertionError("PAUSED with no request to answer")
            elif ev is NEED_DATA:
                if not pending:
                    return out
                session.receive_data(pending.pop(0))
            else:
                assert ev is CLOSED
                return out
    except ProtocolError as e:
        assert e.status in CLIENT_ERROR_STATUSES, (e.status, e.message)
        assert e.message
        out.status = e.status
        return out
    finally:
        if flight is not None and flight.upload is not None:
            flight.upload.close()
