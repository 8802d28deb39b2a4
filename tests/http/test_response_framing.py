"""How the session frames an answer depends on the request it answers: an error after a
HEAD cut short still gets its answer, and HTTP/1.0 with Transfer-Encoding is not kept
alive. No sockets."""

from __future__ import annotations

import pytest

from tornadish._http.engines import ServerSessionType, server_session_class
from tornadish._http.session import ProtocolError


@pytest.fixture
def session_class(http_engine: str) -> type[ServerSessionType]:
    """Each test runs on both engines' sessions."""
    return server_session_class(http_engine)  # type: ignore[arg-type]


def test_head_request_with_a_broken_body_still_gets_its_error(
    session_class: type[ServerSessionType],
) -> None:
    """Bug: the 400 for a HEAD whose body was cut short was empty bytes (h11 refused a
    body in the answer to HEAD), so the client got silence. The answer is now the bare
    status line for every request, which HEAD's rules cannot empty."""
    s = session_class(4096, 1024)
    s.receive_data(b"HEAD / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab")
    s.next_event()  # the head
    assert s.next_event() == b"ab"
    s.next_event()  # NEED_DATA
    s.receive_data(b"")  # the client is gone, 3 bytes short
    with pytest.raises(ProtocolError) as info:
        s.next_event()
    out = s.error_response(info.value.status, "Bad Request")
    assert out == b"HTTP/1.1 400 Bad Request\r\n\r\n"


def test_http10_transfer_encoding_is_not_kept_alive(session_class: type[ServerSessionType]) -> None:
    """Bug: HTTP/1.0 with Transfer-Encoding and Connection: keep-alive stayed open, so
    bytes after the message were read as another request (RFC 9112 §6.1: close)."""
    s = session_class(4096, 1024)
    s.receive_data(
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\n"
    )
    head = s.next_event()
    assert getattr(head, "keep_alive", None) is False
