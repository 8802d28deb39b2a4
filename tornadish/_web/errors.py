"""Exceptions a handler raises to end a request early."""

from __future__ import annotations

from typing import Any

from tornadish._http.parse import responses

__all__ = ["Finish", "HTTPError", "MissingArgumentError"]


class HTTPError(Exception):
    """Raise to answer with an HTTP error status.

    ``log_message`` (formatted with ``args``) goes to the log, never to the client;
    ``reason`` replaces the standard reason phrase.

    >>> raise HTTPError(403, "user %s may not see %s", "bob", "/admin")  # doctest: +SKIP
    """

    def __init__(
        self,
        status_code: int = 500,
        log_message: str | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__(status_code, log_message, *args)
        self.status_code = status_code
        self.log_message = log_message
        self.args = args
        self.reason: str | None = kwargs.get("reason")
        if log_message and not args:
            self.log_message = log_message.replace("%", "%%")

    def __str__(self) -> str:
        message = "HTTP %d: %s" % (
            self.status_code,
            self.reason or responses.get(self.status_code, "Unknown"),
        )
        if self.log_message:
            return message + " (" + (self.log_message % self.args) + ")"
        return message


class Finish(Exception):
    """Raise to end the request without an error: ``finish()`` is called with the
    exception's argument, if any, as the last chunk.

    >>> raise Finish("done")  # doctest: +SKIP
    """


class MissingArgumentError(HTTPError):
    """A required argument was missing (answered with 400)."""

    def __init__(self, arg_name: str) -> None:
        super().__init__(400, "Missing argument %s" % arg_name)
        self.arg_name = arg_name
