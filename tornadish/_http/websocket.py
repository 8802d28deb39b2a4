"""The WebSocket rules (RFC 6455, RFC 7692): the handshake, both roles, and what a message is.

Rules of this module:

1. Every path that opens a WebSocket decides with these functions, so the paths cannot
   drift: ``WebSocketHandler`` (on tornadish's server and under an ASGI server), an
   ASGI app mounted with ``ASGIHandler`` (``MountedWebSocket``), and the client
   (``websocket_connect``). The glue below only carries out what is decided here.
2. Pure: headers in, decisions and headers out; no I/O. wsproto does the protocol
   arithmetic through its public API (``generate_accept_token``, and
   ``PerMessageDeflate``'s own parameter negotiation, which the extension that then
   compresses must agree with byte for byte).

A server handshake, as the native handler runs it: :func:`upgrade_refusal` (is this a
WebSocket request at all?), the origin check, :func:`version_refusal` (version 13 and a
good key), :func:`offered_subprotocols` for ``select_subprotocol``,
:func:`negotiate_deflate`, then :func:`accept_headers` for the ``101``. The client
sends :func:`client_request_headers` and checks the ``101`` with
:func:`check_accept_response`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import os
import struct
from collections.abc import Callable
from typing import Any, NamedTuple

from wsproto.extensions import PerMessageDeflate
from wsproto.utilities import generate_accept_token

from tornadish._http.headers import HTTPHeaders
from tornadish.util import _websocket_mask

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFLATE",
    "AcceptedHandshake",
    "DeflateAgreement",
    "HandshakeRefusal",
    "WebSocketClosedError",
    "WebSocketError",
    "accept_headers",
    "check_accept_response",
    "check_ping_payload",
    "client_deflate_agreement",
    "client_request_headers",
    "close_payload",
    "deflate_offer",
    "deflate_parameters",
    "disconnect_code",
    "frame_header",
    "handshake_refusal",
    "mask_payload",
    "message_size",
    "negotiate_deflate",
    "new_key",
    "offered_subprotocols",
    "reported_close_code",
    "split_header",
    "upgrade_refusal",
    "version_refusal",
    "wants_websocket",
]

#: The largest message accepted unless configured (``websocket_max_message_size``).
DEFAULT_MAX_MESSAGE_SIZE = 10 * 1024 * 1024
#: The one extension tornadish speaks.
DEFLATE = "permessage-deflate"
# wsproto's PerMessageDeflate parameters that compression_options may carry; Tornado's
# compression_level and mem_level are not negotiated: our compressor reads them
# (tornadish._http.permessage_deflate).
_DEFLATE_OPTIONS = (
    "client_no_context_takeover",
    "client_max_window_bits",
    "server_no_context_takeover",
    "server_max_window_bits",
)
# Close codes that never travel in a close frame (RFC 6455 §7.4.1): "no code in the
# frame" and "no frame at all".
_NO_STATUS_RCVD = 1005
_ABNORMAL_CLOSURE = 1006


class WebSocketError(Exception):
    """A WebSocket protocol or handshake error."""


class WebSocketClosedError(WebSocketError):
    """The WebSocket is closed (or closing): nothing more can be sent on it."""


def split_header(value: str) -> list[str]:
    """The comma-separated tokens of a header value, blanks dropped.

    >>> split_header("chat, , superchat")
    ['chat', 'superchat']
    """
    return [v.strip() for v in value.split(",") if v.strip()]


# -- the server's side of the handshake --------------------------------------------------


class HandshakeRefusal(NamedTuple):
    """How to answer a handshake request that cannot be accepted: the status, the body
    (also what is logged), and headers to add (426 names the version we speak)."""

    status: int
    body: str
    headers: tuple[tuple[str, str], ...] = ()


_NOT_WEBSOCKET = HandshakeRefusal(400, 'Can "Upgrade" only to "WebSocket".')
_NOT_UPGRADE = HandshakeRefusal(400, '"Connection" must be "Upgrade".')
# Tornado answers an unknown version with an empty 426 naming the versions it speaks.
_BAD_VERSION = HandshakeRefusal(426, "", (("Sec-WebSocket-Version", "13"),))
_BAD_KEY = HandshakeRefusal(400, "Missing/Invalid WebSocket headers")


def wants_websocket(headers: HTTPHeaders) -> bool:
    """True if the request asks to upgrade to a WebSocket (``Upgrade: websocket``);
    what sends a request to a mounted ASGI app's ``websocket`` scope."""
    upgrade: str = headers.get("Upgrade", "")
    return upgrade.lower() == "websocket"


def upgrade_refusal(headers: HTTPHeaders) -> HandshakeRefusal | None:
    """Why the request is not a WebSocket upgrade at all (``Upgrade: websocket`` and a
    ``Connection`` naming ``upgrade``), or None."""
    if not wants_websocket(headers):
        return _NOT_WEBSOCKET
    if "upgrade" not in {t.lower() for t in split_header(headers.get("Connection", ""))}:
        return _NOT_UPGRADE
    return None


def version_refusal(headers: HTTPHeaders) -> HandshakeRefusal | None:
    """Why the upgrade cannot be accepted: a version other than 13 (426), or a
    ``Sec-WebSocket-Key`` that is not 16 bytes in base64 (400); or None."""
    if headers.get("Sec-WebSocket-Version") != "13":
        return _BAD_VERSION
    try:
        valid = len(base64.b64decode(headers.get("Sec-WebSocket-Key", ""), validate=True)) == 16
    except (binascii.Error, ValueError):
        valid = False
    return None if valid else _BAD_KEY


def handshake_refusal(headers: HTTPHeaders) -> HandshakeRefusal | None:
    """Both checks, in order (a path with no origin check between them)."""
    return upgrade_refusal(headers) or version_refusal(headers)


def offered_subprotocols(headers: HTTPHeaders) -> list[str]:
    """The client's ``Sec-WebSocket-Protocol`` offers, in its order of preference."""
    return split_header(headers.get("Sec-WebSocket-Protocol", ""))


class DeflateAgreement(NamedTuple):
    """``permessage-deflate`` as agreed with the peer: ``parameters`` to build the
    compressing extension with (wsproto's ``PerMessageDeflate`` keywords), and
    ``response``, the ``Sec-WebSocket-Extensions`` value that tells the client so
    (not derivable from ``parameters``: a window size is named only when the client
    asked for one)."""

    parameters: dict[str, Any]
    response: str
    #: The ``compression_options`` agreed under, for their ``compression_level`` and
    #: ``mem_level`` (how hard we compress: nothing the client is told).
    options: dict[str, Any] | None = None


def deflate_parameters(options: dict[str, Any]) -> dict[str, Any]:
    """The keywords for ``PerMessageDeflate`` that ``compression_options`` carry."""
    return {k: options[k] for k in _DEFLATE_OPTIONS if k in options}


def negotiate_deflate(options: dict[str, Any] | None, extensions: str) -> DeflateAgreement | None:
    """Agree ``permessage-deflate`` with a client that offered ``extensions`` (its
    ``Sec-WebSocket-Extensions``), under ``compression_options`` (None: no
    compression). The first offer whose parameters can be honoured wins.

    >>> negotiate_deflate({}, "permessage-deflate; client_max_window_bits").response
    'permessage-deflate; client_max_window_bits=15'
    """
    if options is None:
        return None
    kwargs = deflate_parameters(options)
    for offer in split_header(extensions):
        if offer.split(";", 1)[0].strip() != DEFLATE:
            continue
        deflate = PerMessageDeflate(**kwargs)
        params = deflate.accept(offer)
        if params is None:
            continue  # parameters we cannot honour: try the client's next offer
        response = DEFLATE if params in (True, "") else f"{DEFLATE}; {params}"
        return DeflateAgreement(_agreed(deflate), response, options)
    return None


def _agreed(deflate: PerMessageDeflate) -> dict[str, Any]:
    # The parameters as wsproto settled them (its public attributes).
    return {
        "client_no_context_takeover": deflate.client_no_context_takeover,
        "client_max_window_bits": deflate.client_max_window_bits,
        "server_no_context_takeover": deflate.server_no_context_takeover,
        "server_max_window_bits": deflate.server_max_window_bits,
    }


def accept_headers(
    key: str, subprotocol: str | None, deflate: DeflateAgreement | None
) -> list[tuple[bytes, bytes]]:
    """The headers that make a ``101`` a WebSocket acceptance (after the handler's own).

    >>> accept_headers("dGhlIHNhbXBsZSBub25jZQ==", None, None)[2]
    (b'Sec-WebSocket-Accept', b's3pPLMBiTxaQ9kYGzzhZRbK+xOo=')
    """
    headers = [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", generate_accept_token(key.encode("ascii"))),
    ]
    if subprotocol is not None:
        headers.append((b"Sec-WebSocket-Protocol", subprotocol.encode("ascii")))
    if deflate is not None:
        headers.append((b"Sec-WebSocket-Extensions", deflate.response.encode("ascii")))
    return headers


# -- the client's side of the handshake --------------------------------------------------


def new_key() -> str:
    """A fresh ``Sec-WebSocket-Key``: 16 random bytes in base64."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def deflate_offer(parameters: dict[str, Any]) -> str:
    """The ``Sec-WebSocket-Extensions`` value offering ``permessage-deflate`` with
    ``parameters`` (from :func:`deflate_parameters`)."""
    offer = PerMessageDeflate(**parameters).offer()
    return f"{DEFLATE}; {offer}" if offer else DEFLATE


def client_request_headers(
    host: str, key: str, subprotocols: list[str], extensions: str | None
) -> list[tuple[str, str]]:
    """The headers of a client's upgrade request (``host`` is the ``Host`` value,
    ``extensions`` the ``Sec-WebSocket-Extensions`` offer, if any)."""
    headers = [
        ("Host", host),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", key),
        ("Sec-WebSocket-Version", "13"),
    ]
    if subprotocols:
        headers.append(("Sec-WebSocket-Protocol", ", ".join(subprotocols)))
    if extensions is not None:
        headers.append(("Sec-WebSocket-Extensions", extensions))
    return headers


class AcceptedHandshake(NamedTuple):
    """What a server's ``101`` agreed to: the subprotocol, and the
    ``permessage-deflate`` parameters it accepted (for the offering extension's
    ``finalize``), each None if none."""

    subprotocol: str | None
    deflate: str | None


def check_accept_response(
    headers: HTTPHeaders, key: str, subprotocols: list[str], deflate_offered: bool
) -> AcceptedHandshake:
    """Check a ``101`` answering a request made with ``key``, ``subprotocols`` and (if
    ``deflate_offered``) a ``permessage-deflate`` offer; raise :class:`WebSocketError`
    if the server did not accept the WebSocket, or agreed to something not offered."""
    if headers.get("Upgrade", "").lower() != "websocket":
        raise WebSocketError("missing Upgrade: websocket")
    if headers.get("Sec-WebSocket-Accept", "").encode() != generate_accept_token(key.encode()):
        raise WebSocketError("bad Sec-WebSocket-Accept")
    selected = headers.get("Sec-WebSocket-Protocol")
    if selected is not None and selected not in subprotocols:
        raise WebSocketError(f"server selected unoffered subprotocol {selected!r}")
    deflate: str | None = None
    for accepted in split_header(headers.get("Sec-WebSocket-Extensions", "")):
        name = accepted.split(";", 1)[0].strip()
        if name != DEFLATE or not deflate_offered or deflate is not None:
            raise WebSocketError(f"server accepted unoffered extension {accepted!r}")
        deflate = accepted
    return AcceptedHandshake(selected, deflate)


def client_deflate_agreement(
    parameters: dict[str, Any], accepted: str, options: dict[str, Any] | None
) -> DeflateAgreement:
    """``permessage-deflate`` as a server's ``101`` agreed it: the client offered
    ``parameters`` (from :func:`deflate_parameters`), the server answered ``accepted``
    (its ``Sec-WebSocket-Extensions`` entry, from :func:`check_accept_response`).
    Raises :class:`WebSocketError` for parameters out of range."""
    deflate = PerMessageDeflate(**parameters)
    try:
        deflate.finalize(accepted)
    except ValueError as e:  # a window size outside 9-15, or not a number
        raise WebSocketError(f"bad permessage-deflate parameters {accepted!r}: {e}") from None
    return DeflateAgreement(_agreed(deflate), accepted, options)


# -- messages ------------------------------------------------------------------------------


def message_size(data: str | bytes | bytearray) -> int:
    """A message's size as the limits count it: bytes, as on the wire (UTF-8 for text)."""
    if type(data) is str and not data.isascii():
        return len(data.encode("utf-8"))
    return len(data)


_HEADER_16 = struct.Struct("!BBH")
_HEADER_64 = struct.Struct("!BBQ")


def frame_header(
    fin: bool, opcode: int, length: int, flags: int = 0, masked: bool = False
) -> bytes:
    """The head of a frame (RFC 6455 §5.2) carrying ``length`` payload bytes, up to the
    masking key: FIN, the RSV bits in ``flags`` (``0x40`` marks a compressed message),
    the opcode, and the mask bit and payload length.

    >>> frame_header(True, 0x1, 5)
    b'\\x81\\x05'
    >>> frame_header(True, 0x2, 300, masked=True)
    b'\\x82\\xfe\\x01,'
    """
    first = (0x80 if fin else 0) | flags | opcode
    mask_bit = 0x80 if masked else 0
    if length < 126:
        return bytes((first, mask_bit | length))
    if length < 0x10000:
        return _HEADER_16.pack(first, mask_bit | 126, length)
    return _HEADER_64.pack(first, mask_bit | 127, length)


_CLOSE_CODE = struct.Struct("!H")
# Close codes that never travel in a close frame: "no code", "no close frame", "TLS
# failure" (RFC 6455 §7.4.1); one asked for goes as 1000, as wsproto sends it.
_LOCAL_ONLY = frozenset((_NO_STATUS_RCVD, _ABNORMAL_CLOSURE, 1015))


def close_payload(code: int, reason: str | None = None) -> bytes:
    """The payload of a close frame (RFC 6455 §5.5.1): ``code`` (1005: none, and then no
    reason either) and the UTF-8 ``reason``, cut at a character boundary to fit a
    control frame (123 bytes).

    >>> close_payload(1000, "bye")
    b'\\x03\\xe8bye'
    >>> close_payload(1005)
    b''
    """
    if code == _NO_STATUS_RCVD:
        return b""
    if code in _LOCAL_ONLY:
        code = 1000
    payload = _CLOSE_CODE.pack(code)
    if reason:
        raw = reason.encode("utf-8")
        if len(raw) > 123:
            raw = raw[:123].decode("utf-8", "ignore").encode("utf-8")
        payload += raw
    return payload


@functools.cache
def _masker() -> Callable[[bytes, bytes], bytes]:
    # Looked for on first use: importing websockets costs start-up time.
    try:
        from websockets.speedups import apply_mask
    except ImportError:
        return _websocket_mask
    # websockets' C loop, a word at a time; its arguments come the other way round.
    return lambda key, data: apply_mask(data, key)


def mask_payload(key: bytes, data: bytes) -> bytes:
    """``data`` masked with the 4-byte ``key`` (RFC 6455 §5.3): in C where the
    ``websockets`` library is installed (whichever engine parses), else
    :func:`tornadish.util._websocket_mask`.

    >>> mask_payload(b"abcd", mask_payload(b"abcd", b"hello"))
    b'hello'
    """
    return _masker()(key, data)


def check_ping_payload(data: bytes) -> None:
    """Raise ``ValueError`` for a ping payload a control frame cannot carry."""
    if len(data) > 125:
        raise ValueError("ping data must be 125 bytes or less")


def reported_close_code(code: int | None) -> int | None:
    """The close code a sink is told: None for "no code" (1005) and "no close frame"
    (1006), which no peer sends (Tornado's ``close_code`` is None then)."""
    if code is None or code in (_NO_STATUS_RCVD, _ABNORMAL_CLOSURE):
        return None
    return int(code)


def disconnect_code(code: int | None, close_received: bool) -> int:
    """The code an ASGI app's ``websocket.disconnect`` carries: the peer's, else 1005
    (its close frame had none) or 1006 (there was no close frame)."""
    if code is not None:
        return code
    return _NO_STATUS_RCVD if close_received else _ABNORMAL_CLOSURE
