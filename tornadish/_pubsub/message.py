"""The vocabulary of :mod:`tornadish.pubsub`: :class:`Message`, the gap markers, the
errors, and the codec that carries a message's data between processes.

Rules of this module:

1. Data crosses a process boundary as bytes with a one-letter kind — ``s`` text (UTF-8),
   ``b`` bytes, ``j`` JSON — so a subscriber gets back the type that was published (a
   JSON value decoded) whichever backend carries it. ``memory://`` runs the same codec,
   so what works in one process works across many (a dict comes back a dict, a tuple a
   list, a ``datetime`` is refused at ``publish``).
2. Pure: no I/O, no event loop.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "GAP_OVERFLOW",
    "GAP_RECONNECT",
    "GAP_TRIMMED",
    "Message",
    "PubSubError",
    "PublishError",
    "SlowSubscriberError",
    "decode",
    "encode",
]

#: Gap reasons (:attr:`Message.gap`): the subscriber's queue was full and its oldest
#: messages were dropped (``overflow="drop_oldest"``).
GAP_OVERFLOW = "overflow"
#: The link to Redis was lost, and what was published meanwhile could not all be found
#: again (Redis restarted without its data, or the Stream was trimmed past it).
GAP_RECONNECT = "reconnect"
#: A resume (``subscribe(after=id)``) asked for messages the history no longer holds:
#: ``id`` is older than the oldest message kept, or unknown.
GAP_TRIMMED = "trimmed"


@dataclass(frozen=True, slots=True)
class Message:
    """One message of a channel, or a gap marker.

    ``channel`` is the channel's name; ``data`` what was published (``str``, ``bytes``,
    or the JSON value, decoded); ``id`` its id, unique within the broadcast and growing
    with each message of a channel: send it to a browser as an SSE ``id:`` and pass it
    back as ``subscribe(channel, after=id)`` to resume after it.

    A gap marker has ``gap`` set to the reason (``"overflow"``, ``"reconnect"`` or
    ``"trimmed"``), and ``data`` and ``id`` None: messages may be missing at this place
    in the stream, so resynchronise (reload the state, tell the client) before going
    on. Treat ``data`` as read-only: the subscribers of one process share it.
    """

    channel: str
    data: Any
    id: str | None
    gap: str | None = None


class PubSubError(Exception):
    """Base class of the errors of :mod:`tornadish.pubsub`."""


class PublishError(PubSubError):
    """``publish`` could not hand the message over: the broker is unreachable (Redis is
    down or restarting). Nothing was published; publishing again later may succeed."""


class SlowSubscriberError(PubSubError):
    """Raised by a subscription with ``overflow="close"`` whose queue filled up: the
    subscriber read too slowly and was dropped (its queued messages freed)."""


def encode(data: Any) -> tuple[str, bytes]:
    """``(kind, payload)`` for ``data``: text, bytes, or anything ``json.dumps`` takes.

    Raises :class:`TypeError` for data JSON cannot represent (refused at ``publish``,
    not in a subscriber).
    """
    if isinstance(data, str):
        return "s", data.encode("utf-8")
    if isinstance(data, (bytes, bytearray, memoryview)):
        return "b", bytes(data)
    try:
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise TypeError(f"pub/sub data must be str, bytes or JSON-able: {e}") from None
    return "j", text.encode("utf-8")


def decode(kind: str, payload: bytes) -> Any:
    """The data :func:`encode` made ``(kind, payload)`` of; an unknown kind, or JSON
    that does not parse (a message another program wrote), gives the payload as bytes:
    a subscriber never fails on what it receives."""
    if kind == "s":
        return payload.decode("utf-8", "replace")
    if kind == "j":
        try:
            return json.loads(payload)
        except ValueError:
            return payload
    return payload
