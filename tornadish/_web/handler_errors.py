"""The error half of ``RequestHandler``: error pages, exception logging, and what
happens when the handler (or its error page) raises.

``RequestHandler`` inherits :class:`ErrorsMixin`, with Tornado's names and behaviour
(``send_error``, ``write_error``, ``log_exception``). Rule of this module: an
exception raised by a handler is logged once and answered once; if even the answer
fails, the connection is dropped and ``on_finish`` still runs.
"""

from __future__ import annotations

from collections.abc import Awaitable
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tornadish import escape
from tornadish._web.errors import Finish, HTTPError
from tornadish.log import app_log, gen_log

if TYPE_CHECKING:
    from tornadish._http.request import HTTPServerRequest

__all__ = ["ErrorsMixin", "forbids_body"]


def forbids_body(status: int) -> bool:
    """True for the statuses whose responses end at the head."""
    # 1xx, 204 and 304 responses end at the header block (RFC 9110 §6.4.1).
    return status in (204, 304) or 100 <= status < 200


class ErrorsMixin:
    """Error pages and exception handling of a ``RequestHandler``."""

    if TYPE_CHECKING:
        request: HTTPServerRequest
        _headers_written: bool
        _finished: bool
        _reason: str

        @property
        def settings(self) -> dict[str, Any]: ...
        def clear(self) -> None: ...
        def finish(self, chunk: str | bytes | dict[str, Any] | None = None) -> Awaitable[None]: ...
        def set_status(self, status_code: int, reason: str | None = None) -> None: ...
        def _set_allow_header(self) -> None: ...
        def _request_summary(self) -> str: ...
        def _run_on_finish(self) -> None: ...

    def send_error(self, status_code: int = 500, **kwargs: Any) -> None:
        """Answer with an error page built by :meth:`write_error`."""
        if self._headers_written:
            gen_log.error("Cannot send error response after headers written")
            if not self._finished:
                try:
                    self.finish()
                except Exception:
                    gen_log.error("Failed to flush partial response", exc_info=True)
            return
        self.clear()
        if status_code == 405:
            # After clear(): a 405 lists the methods the handler implements (RFC 9110).
            self._set_allow_header()
        reason = kwargs.get("reason")
        exc_info = kwargs.get("exc_info")
        if exc_info is not None:
            exception = exc_info[1]
            if isinstance(exception, HTTPError) and exception.reason:
                reason = exception.reason
        self.set_status(status_code, reason=reason)
        try:
            self.write_error(status_code, **kwargs)
        except Exception:
            app_log.error("Uncaught exception in write_error", exc_info=True)
        if not self._finished:
            self.finish()

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Write the body of an error page (override for custom pages).

        With ``serve_traceback``, an exception's traceback (HTML to browsers); else a tiny page.
        """
        if forbids_body(status_code):  # HTTPError(304), HTTPError(204): no page
            self.finish()
        elif self.settings.get("serve_traceback") and "exc_info" in kwargs:
            from tornadish._web.debug_page import write_traceback  # debug mode: imported late

            write_traceback(self, status_code, kwargs["exc_info"])  # type: ignore[arg-type]
        else:
            self.finish(
                "<html><title>%(code)d: %(message)s</title>"
                "<body>%(code)d: %(message)s</body></html>"
                % {"code": status_code, "message": escape.xhtml_escape(self._reason)}
            )

    def log_exception(
        self,
        typ: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Log an exception raised by the handler (override to change how)."""
        if isinstance(value, HTTPError):
            if value.log_message:
                fmt = "%d %s: " + value.log_message
                args = [value.status_code, self._request_summary(), *value.args]
                gen_log.warning(fmt, *args)
        else:
            app_log.error(
                "Uncaught exception %s\n%r",
                self._request_summary(),
                self.request,
                exc_info=(typ, value, tb),  # type: ignore[arg-type]
            )

    def _handle_request_exception(self, e: BaseException) -> None:
        try:
            self._answer_exception(e)
        except Exception:
            # Even the error response failed (say the connection refused a bad
            # Content-Length mid-response): drop the connection rather than leave the
            # client waiting, and still run on_finish.
            app_log.error("Exception in exception handler", exc_info=True)
            self._abandon()

    def _answer_exception(self, e: BaseException) -> None:
        if isinstance(e, Finish):
            if not self._finished:
                self.finish(*e.args)
            return
        exc_info = (type(e), e, e.__traceback__)
        try:
            self.log_exception(*exc_info)
        except Exception:
            app_log.error("Error in exception logger", exc_info=True)
        if self._finished:
            return
        if isinstance(e, HTTPError):
            self.send_error(e.status_code, exc_info=exc_info)
        else:
            self.send_error(500, exc_info=exc_info)

    def _abandon(self) -> None:
        conn = self.request.connection
        if conn is not None:
            try:
                conn.set_close_callback(None)  # a server-side close: no on_connection_close
                conn.close()
            except Exception:
                app_log.error("Could not close the connection", exc_info=True)
        if not self._finished:
            self._finished = True
            self._run_on_finish()
