"""The WebSocket rules (``tornadish._http.websocket``) without a socket: what a server
refuses and how, what it agrees to, what the client sends and accepts, what a message
counts as. The native handler, the mounted-ASGI bridge and the client all decide with
these, so a rule checked here holds on every path."""

from __future__ import annotations

from typing import Any

import pytest
from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, Event, TextMessage
from wsproto.extensions import PerMessageDeflate

from tornadish._http.headers import HTTPHeaders
from tornadish._http.websocket import (
    DEFLATE,
    HandshakeRefusal,
    WebSocketError,
    accept_headers,
    check_accept_response,
    check_ping_payload,
    client_request_headers,
    deflate_offer,
    deflate_parameters,
    disconnect_code,
    frame_header,
    handshake_refusal,
    message_size,
    negotiate_deflate,
    new_key,
    offered_subprotocols,
    reported_close_code,
    upgrade_refusal,
    version_refusal,
    wants_websocket,
)

# RFC 6455 §1.3's example.
KEY = "dGhlIHNhbXBsZSBub25jZQ=="
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request(**overrides: str | None) -> HTTPHeaders:
    headers = {
        "Host": "example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in overrides.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    out = HTTPHeaders()
    for name, value in headers.items():
        out.add(name, value)
    return out


# -- the server refuses ------------------------------------------------------------------


def test_a_valid_handshake_is_not_refused() -> None:
    assert handshake_refusal(request()) is None
    assert handshake_refusal(request(Upgrade="WebSocket", Connection="keep-alive, upgrade")) is None


@pytest.mark.parametrize("upgrade", [None, "", "h2c", "websocket, h2c"])
def test_no_upgrade_to_websocket_is_400_as_tornado_says(upgrade: str | None) -> None:
    headers = request(Upgrade=upgrade)
    assert not wants_websocket(headers)
    assert upgrade_refusal(headers) == HandshakeRefusal(400, 'Can "Upgrade" only to "WebSocket".')


@pytest.mark.parametrize("connection", [None, "keep-alive", "upgrades", "close"])
def test_connection_without_upgrade_is_400(connection: str | None) -> None:
    assert upgrade_refusal(request(Connection=connection)) == HandshakeRefusal(
        400, '"Connection" must be "Upgrade".'
    )


@pytest.mark.parametrize("version", [None, "8", "7, 8, 13", "14"])
def test_other_versions_are_an_empty_426_naming_13(version: str | None) -> None:
    refusal = version_refusal(request(Sec_WebSocket_Version=version))
    assert refusal == HandshakeRefusal(426, "", (("Sec-WebSocket-Version", "13"),))


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "short",
        "dGhlIHNhbXBsZSBub25jZQ",
        "dGhlIHNhbXBsZSBub25jZSE=",
        "d$hlIHNhbXBsZSBub25jZQ==",
    ],
)
def test_a_key_that_is_not_16_bytes_in_base64_is_400(key: str | None) -> None:
    assert version_refusal(request(Sec_WebSocket_Key=key)) == HandshakeRefusal(
        400, "Missing/Invalid WebSocket headers"
    )


def test_refusals_come_in_order_upgrade_connection_version_key() -> None:
    def status_and_body(**overrides: str | None) -> tuple[int, str] | None:
        refusal = handshake_refusal(request(**overrides))
        return None if refusal is None else (refusal.status, refusal.body)

    wrong = {"Sec_WebSocket_Key": "x", "Sec_WebSocket_Version": "8", "Connection": None}
    assert status_and_body(Upgrade=None, **wrong) == (400, 'Can "Upgrade" only to "WebSocket".')
    assert status_and_body(**wrong) == (400, '"Connection" must be "Upgrade".')
    del wrong["Connection"]
    assert status_and_body(**wrong) == (426, "")
    del wrong["Sec_WebSocket_Version"]
    assert status_and_body(**wrong) == (400, "Missing/Invalid WebSocket headers")


def test_offered_subprotocols_keep_the_clients_order() -> None:
    assert offered_subprotocols(request()) == []
    headers = request(Sec_WebSocket_Protocol="chat, , superchat ,v2")
    assert offered_subprotocols(headers) == ["chat", "superchat", "v2"]


# -- the server accepts ------------------------------------------------------------------


def test_accept_headers_follow_the_rfc_example() -> None:
    assert accept_headers(KEY, None, None) == [
        (b"Upgrade", b"websocket"),
        (b"Connection", b"Upgrade"),
        (b"Sec-WebSocket-Accept", ACCEPT.encode()),
    ]


def test_accept_headers_name_the_subprotocol_then_the_extension() -> None:
    agreed = negotiate_deflate({}, DEFLATE)
    assert accept_headers(KEY, "chat", agreed)[3:] == [
        (b"Sec-WebSocket-Protocol", b"chat"),
        (b"Sec-WebSocket-Extensions", b"permessage-deflate"),
    ]


def test_no_compression_options_or_no_offer_agrees_nothing() -> None:
    assert negotiate_deflate(None, DEFLATE) is None
    assert negotiate_deflate({}, "") is None
    assert negotiate_deflate({}, "x-webkit-deflate-frame, foo; bar=1") is None


@pytest.mark.parametrize(
    ("options", "offer", "response"),
    [
        ({}, "permessage-deflate", "permessage-deflate"),
        (
            {},
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; client_max_window_bits=15",
        ),
        (
            {"server_no_context_takeover": True},
            "permessage-deflate",
            "permessage-deflate; server_no_context_takeover",
        ),
        (
            {"compression_level": 9, "mem_level": 5},  # Tornado's, no wsproto equivalent
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; server_max_window_bits=10",
        ),
        # An offer that cannot be honoured (a window below 9) gives way to the next.
        (
            {},
            "permessage-deflate; server_max_window_bits=8, permessage-deflate",
            "permessage-deflate",
        ),
        # Other extensions are passed over.
        (
            {},
            "foo, permessage-deflate; client_no_context_takeover",
            "permessage-deflate; client_no_context_takeover",
        ),
    ],
)
def test_deflate_negotiation(options: dict[str, Any], offer: str, response: str) -> None:
    agreed = negotiate_deflate(options, offer)
    assert agreed is not None
    assert agreed.response == response


def test_deflate_agreement_is_what_the_wsproto_server_would_agree() -> None:
    offer = "permessage-deflate; client_max_window_bits=12; server_no_context_takeover"
    agreed = negotiate_deflate({"server_max_window_bits": 11}, offer)
    assert agreed is not None
    reference = PerMessageDeflate(server_max_window_bits=11)
    assert reference.accept(offer) == agreed.response.partition("; ")[2]
    assert agreed.parameters == {
        "client_no_context_takeover": False,
        "client_max_window_bits": 12,
        "server_no_context_takeover": True,
        "server_max_window_bits": 11,
    }


def test_the_agreed_parameters_compress_what_the_client_inflates() -> None:
    agreed = negotiate_deflate({}, deflate_offer({"client_max_window_bits": 10}))
    assert agreed is not None
    server_ext = PerMessageDeflate(**agreed.parameters)
    server_ext.finalize(agreed.response)
    client_ext = PerMessageDeflate(client_max_window_bits=10)
    client_ext.finalize(agreed.response)
    server = Connection(ConnectionType.SERVER, [server_ext])
    client = Connection(ConnectionType.CLIENT, [client_ext])
    for sender, receiver in ((server, client), (client, server)):
        text = "compress me " * 200
        wire = sender.send(TextMessage(data=text))
        assert len(wire) < len(text) // 4
        receiver.receive_data(wire)
        (event,) = list(receiver.events())
        assert isinstance(event, TextMessage) and event.data == text


# -- the client ----------------------------------------------------------------------------


def test_client_request_passes_the_servers_checks() -> None:
    key = new_key()
    offer = deflate_offer(deflate_parameters({"client_no_context_takeover": True, "x": 1}))
    pairs = client_request_headers("example.com:8080", key, ["chat", "v2"], offer)
    headers = HTTPHeaders()
    for name, value in pairs:
        headers.add(name, value)
    assert handshake_refusal(headers) is None
    assert headers["Host"] == "example.com:8080"
    assert offered_subprotocols(headers) == ["chat", "v2"]
    agreed = negotiate_deflate({}, headers["Sec-WebSocket-Extensions"])
    assert agreed is not None and "client_no_context_takeover" in agreed.response


def test_client_request_without_options_names_neither() -> None:
    names = [name for name, _ in client_request_headers("h", KEY, [], None)]
    assert names == ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
    assert deflate_offer({}) == (
        "permessage-deflate; client_max_window_bits=15; server_max_window_bits=15"
    )


def response(*extra: tuple[str, str], accept: str = ACCEPT) -> HTTPHeaders:
    headers = HTTPHeaders()
    headers.add("Upgrade", "websocket")
    headers.add("Connection", "Upgrade")
    headers.add("Sec-WebSocket-Accept", accept)
    for name, value in extra:
        headers.add(name, value)
    return headers


def test_client_accepts_what_the_server_answers() -> None:
    for name, value in accept_headers(KEY, "v2", negotiate_deflate({}, DEFLATE)):
        assert isinstance(name, bytes) and isinstance(value, bytes)
    headers = HTTPHeaders()
    for name, value in accept_headers(KEY, "v2", negotiate_deflate({}, DEFLATE)):
        headers.add(name.decode(), value.decode())
    accepted = check_accept_response(headers, KEY, ["chat", "v2"], True)
    assert accepted == ("v2", "permessage-deflate")
    assert check_accept_response(response(), KEY, [], False) == (None, None)


@pytest.mark.parametrize(
    ("headers", "subprotocols", "deflate", "message"),
    [
        (response(accept="AAAA"), [], False, "bad Sec-WebSocket-Accept"),
        (response(("Sec-WebSocket-Protocol", "x")), ["chat"], False, "unoffered subprotocol"),
        (response(("Sec-WebSocket-Extensions", "permessage-deflate")), [], False, "unoffered"),
        (response(("Sec-WebSocket-Extensions", "x-frame")), [], True, "unoffered extension"),
        (
            response(("Sec-WebSocket-Extensions", "permessage-deflate, permessage-deflate")),
            [],
            True,
            "unoffered extension",
        ),
    ],
)
def test_client_refuses_what_it_did_not_ask_for(
    headers: HTTPHeaders, subprotocols: list[str], deflate: bool, message: str
) -> None:
    with pytest.raises(WebSocketError, match=message):
        check_accept_response(headers, KEY, subprotocols, deflate)


def test_client_refuses_a_101_that_is_not_a_websocket() -> None:
    headers = response()
    headers["Upgrade"] = "h2c"
    with pytest.raises(WebSocketError, match="missing Upgrade: websocket"):
        check_accept_response(headers, KEY, [], False)


# -- messages ------------------------------------------------------------------------------


def test_message_size_counts_bytes_as_on_the_wire() -> None:
    assert message_size("abc") == 3
    assert message_size("é€") == 5
    assert message_size(b"\xff\x00") == 2
    assert message_size(bytearray(7)) == 7


def test_ping_payload_fits_a_control_frame() -> None:
    check_ping_payload(b"x" * 125)
    with pytest.raises(ValueError, match="125 bytes or less"):
        check_ping_payload(b"x" * 126)


def test_close_codes_no_peer_sends_are_reported_as_none() -> None:
    assert reported_close_code(None) is None
    assert reported_close_code(1005) is None
    assert reported_close_code(1006) is None
    assert reported_close_code(1000) == 1000
    assert reported_close_code(4001) == 4001
    assert disconnect_code(None, True) == 1005
    assert disconnect_code(None, False) == 1006
    assert disconnect_code(4001, False) == 4001


# -- frames ----------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [0, 1, 125, 126, 127, 65535, 65536, 70000])
def test_frame_header_is_what_wsproto_parses(length: int) -> None:
    """Every length encoding (7-bit, 16-bit, 64-bit) as a peer's parser reads it: the
    client's frames masked (with a zero key here), the server's not."""
    payload = bytes(range(256)) * (length // 256) + bytes(range(length % 256))
    for role, masked in ((ConnectionType.SERVER, True), (ConnectionType.CLIENT, False)):
        wire = frame_header(True, 0x2, length, 0, masked) + (b"\0" * 4 if masked else b"")
        conn = Connection(role)
        conn.receive_data(wire + payload)
        events: list[Event] = list(conn.events())
        assert len(events) == 1 and isinstance(events[0], BytesMessage)
        assert events[0].data == payload


def test_frame_header_bits() -> None:
    assert frame_header(True, 0x1, 5) == b"\x81\x05"
    assert frame_header(False, 0x2, 5, 0x40) == b"\x42\x05"  # RSV1, no FIN
    assert frame_header(True, 0xA, 3, masked=True) == b"\x8a\x83"
    assert frame_header(True, 0x2, 126) == b"\x82\x7e\x00\x7e"
    assert frame_header(True, 0x2, 1 << 16) == b"\x82\x7f" + (1 << 16).to_bytes(8, "big")
