"""``_http.answers``: the server's own answers, without a socket."""

from __future__ import annotations

import email.utils
import time

import h11
import pytest

from tornadish._http.answers import SERVER, error_answer, http_date, reason_phrase


def test_400_is_tornados_bare_status_line() -> None:
    # Tornado's test suite pins these bytes (httpserver_test: a malformed request, a
    # body over max_body_size); the close that follows ends the answer.
    assert error_answer(400, "Bad Request") == b"HTTP/1.1 400 Bad Request\r\n\r\n"


@pytest.mark.parametrize("status", [408, 413, 414, 431, 500, 501, 505])
def test_every_other_refusal_is_a_complete_rfc_9110_answer(status: int) -> None:
    data = error_answer(status, reason_phrase(status))
    # A real HTTP/1.1 client reads it as a whole response, without waiting for a close.
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    client.send(h11.EndOfMessage())
    client.receive_data(data)
    response = client.next_event()
    assert isinstance(response, h11.Response)
    assert response.status_code == status
    headers = {k.decode(): v.decode() for k, v in response.headers}
    assert headers["server"] == SERVER
    assert headers["content-length"] == "0"
    assert headers["connection"] == "close"
    sent = email.utils.parsedate_to_datetime(headers["date"])
    assert abs(sent.timestamp() - time.time()) < 5
    assert isinstance(client.next_event(), h11.EndOfMessage)


def test_reason_phrases_are_rfc_9110s() -> None:
    assert reason_phrase(413) == "Content Too Large"
    assert reason_phrase(414) == "URI Too Long"
    assert reason_phrase(431) == "Request Header Fields Too Large"
    assert reason_phrase(599) == "Error"


def test_http_date_is_formatted_once_a_second(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1_359_312_200.25]
    monkeypatch.setattr(time, "time", lambda: now[0])
    first = http_date()
    assert first == "Sun, 27 Jan 2013 18:43:20 GMT"
    now[0] = 1_359_312_200.99
    assert http_date() is first  # the cached string, not formatted again
    now[0] = 1_359_312_201.0
    assert http_date() == "Sun, 27 Jan 2013 18:43:21 GMT"
