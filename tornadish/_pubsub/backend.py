"""``Backend``: what a :class:`~tornadish.pubsub.Broadcast` needs of the thing that
carries its messages (``memory://`` in one process, ``redis://`` across many).

Rules of this module:

1. The interface is small: connect and disconnect; publish already-encoded data and
   return the message's id; attach a subscriber's queue to a channel (live from the
   moment ``attach`` returns) and detach it; read a page of a channel's history after an
   id; and read an id as a sortable key.
2. A backend puts every message of a channel into the queues attached to it, in one
   order, and a gap marker wherever it may have lost some; it decodes each message
   once, however many subscribers share it.
"""

from __future__ import annotations

import abc
from typing import NamedTuple

from tornadish._pubsub.queue import Entry, Key, SubscriberQueue

__all__ = ["Backend", "Replay"]


class Replay(NamedTuple):
    """A page of a channel's history: its entries, oldest first, and whether the id it
    was asked to follow is no longer kept (then the page starts at the oldest message
    kept, and messages may be missing before it)."""

    entries: list[Entry]
    missing: bool


class Backend(abc.ABC):
    """The transport of one broadcast; see the module's description."""

    @abc.abstractmethod
    async def connect(self) -> None:
        """Make the backend ready; raise :class:`PubSubError` if it cannot be."""

    @abc.abstractmethod
    async def disconnect(self) -> None:
        """Close every attached queue (their streams end) and release the backend."""

    @abc.abstractmethod
    async def publish(self, channel: str, kind: str, payload: bytes) -> str:
        """Deliver a message; returns its id. Raises :class:`PublishError` when the
        message could not be handed over."""

    @abc.abstractmethod
    async def attach(self, channel: str, queue: SubscriberQueue) -> None:
        """Deliver ``channel``'s messages into ``queue`` from now on (returns once the
        subscription is live; while Redis is down, once it is back)."""

    @abc.abstractmethod
    async def detach(self, channel: str, queue: SubscriberQueue) -> None:
        """Stop delivering into ``queue``."""

    @abc.abstractmethod
    async def replay(self, channel: str, after: str | None, count: int) -> Replay:
        """Up to ``count`` messages of ``channel``'s history after the id ``after``
        (from the oldest kept when ``after`` is None)."""

    @abc.abstractmethod
    def key(self, message_id: str) -> Key | None:
        """``message_id`` read as a sortable key; None when it is not an id of this
        backend."""
