"""Tornado's ``BaseIOStream`` on an asyncio transport: the read buffer with Tornado's
``read_*`` methods, writes whose futures resolve once the bytes are flushed, and close.

Where the transport comes from (a socket, a TLS handshake, a pipe) is the business of
:mod:`.iostream` and :mod:`.pipe_stream`; this module only talks to one once it is
there. Rules of this module:

1. The transport does the I/O. A :class:`StreamProtocol` forwards what the transport
   says to its stream; the stream never touches a file descriptor. (Tornado's
   ``read_from_fd``, where overridden, sees every byte on its way: :mod:`.read_hook`.)
2. Reading is on only while someone wants bytes: a read is pending, or the stream is
   idle with a close callback set and nothing buffered (so a peer that goes away is
   noticed) — when Tornado polls too. Otherwise ``pause_reading`` leaves the bytes in the
   kernel: memory stays bounded, and ``start_tls`` finds the peer's handshake still in
   the socket. The pause is decided a loop turn late, so a reader that asks again at
   once (``while True: await stream.read_until(b"\\n")``) costs no system call.
3. A pending read that ``max_buffer_size`` bytes cannot satisfy closes the stream with
   :class:`StreamBufferFullError`; a ``read_until*`` that ``max_bytes`` cannot, with
   :class:`UnsatisfiableReadError`. The read then fails with :class:`StreamClosedError`,
   whose ``real_error`` says why.
4. Flushed means handed to the kernel. The transport's write-buffer limits are set so
   that it pauses us whenever it holds anything and resumes us once it is empty; while
   it is paused (or not there yet: ``connect`` or a handshake in progress), writes wait
   in our :class:`StreamBuffer` as views of the caller's data, and go to the transport
   a chunk at a time. The one :class:`~tornadish._io.flow_control.WriteGate` turns
   that into write futures. (A TLS transport hands its encrypted bytes to the socket's
   transport, whose own buffer it does not count: there, flushed means encrypted and
   queued below that transport's high-water mark.)
5. ``close()`` is Tornado's: the stream is closed at once, pending futures fail with
   :class:`StreamClosedError`, the close callback runs on a later loop turn, and output
   the kernel has not taken is dropped (the transport is aborted), so a peer that
   reads nothing holds nothing. With nothing pending, the transport closes cleanly (a
   TLS one sends its close_notify, which Tornado never does, but does not wait for the
   peer's: the socket closes at once either way). Only bytes written before
   the transport existed still go out after a close (``stream.write(b); stream.close()``
   on a new stream: in Tornado they would have been sent at once), for at most
   :data:`CLOSE_FLUSH_SECONDS`.
6. A read future cancelled by its awaiter (``asyncio.wait_for``) abandons the read and
   consumes nothing; the next read may start at once.
"""

from __future__ import annotations

import asyncio
import errno
import re
import sys
from collections.abc import Callable
from types import TracebackType
from typing import Any

from tornadish._http.contract import StreamClosedError
from tornadish._io.flow_control import WriteGate, failed_future
from tornadish._io.read_hook import ReadFromFd
from tornadish._io.stream_buffer import StreamBuffer
from tornadish.ioloop import IOLoop
from tornadish.log import gen_log

__all__ = [
    "BOTH",
    "CLOSE_FLUSH_SECONDS",
    "CONNECTING",
    "HANDED_OVER",
    "NOT_STARTED",
    "READ",
    "WRITE",
    "WRITE_CHUNK_SIZE",
    "BaseIOStream",
    "StreamBufferFullError",
    "StreamClosedError",
    "StreamProtocol",
    "UnsatisfiableReadError",
]

#: How long a closed stream's transport may take to send what was written before the
#: close, before it is aborted (a peer that reads nothing must not hold it for ever).
CLOSE_FLUSH_SECONDS = 30.0

_DEFAULT_MAX_BUFFER_SIZE = 104857600  # 100 MiB, as in Tornado
_DEFAULT_READ_CHUNK_SIZE = 65536

# A connection ended by the peer: a close like any other, not worth a log line.
_ERRNO_CONNRESET = frozenset((errno.ECONNRESET, errno.ECONNABORTED, errno.EPIPE, errno.ETIMEDOUT))

# How far the attach task has got: who closes the file if the stream closes meanwhile.
NOT_STARTED = 0  # the stream (the task never ran)
CONNECTING = 1  # the task (loop.sock_connect is under way)
HANDED_OVER = 2  # the transport it was given to

# The most one write hands the transport while it is not pausing us: a TLS transport
# encrypts all it is given at once, so a larger write would bypass our flow control.
WRITE_CHUNK_SIZE = 262144

# Which directions a transport serves (a pipe stream has one transport per direction).
READ = 1
WRITE = 2
BOTH = READ | WRITE

ExcInfo = (
    None
    | bool
    | BaseException
    | tuple[type[BaseException] | None, BaseException | None, TracebackType | None]
)


class UnsatisfiableReadError(Exception):
    """A ``read_until`` or ``read_until_regex`` found no match within ``max_bytes``."""


class StreamBufferFullError(Exception):
    """A read could not be satisfied within ``max_buffer_size``, or a write would take
    the output buffer past ``max_write_buffer_size``."""


class StreamProtocol(asyncio.Protocol):
    """What one transport tells its stream (a pipe stream has one per direction)."""

    __slots__ = ("_role", "_stream")

    def __init__(self, stream: BaseIOStream, role: int = BOTH) -> None:
        self._stream = stream
        self._role = role

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._stream._attached(transport, self._role)

    def data_received(self, data: bytes) -> None:
        stream = self._stream
        if stream._read_hooked():
            stream._hooked_read(data)  # rule 1 of .read_hook
        else:
            stream._data(data)

    def eof_received(self) -> bool:
        self._stream._eof()
        return False  # Tornado closes on EOF: no half-open streams

    def connection_lost(self, exc: Exception | None) -> None:
        self._stream._lost(self._role, exc)

    def pause_writing(self) -> None:
        stream = self._stream
        stream._write_paused = True
        stream._gate.pause()

    def resume_writing(self) -> None:
        stream = self._stream
        stream._write_paused = False
        stream._pump()


class BaseIOStream(ReadFromFd):
    """Reading from and writing to a non-blocking byte stream (Tornado's
    ``BaseIOStream``), over an asyncio transport.

    Every ``read_*`` method returns a future resolved with the bytes read (``read_into``:
    their count); ``write`` returns one resolved once the bytes are flushed. Once the
    stream closes, all outstanding futures fail with :class:`StreamClosedError`, and
    ``error`` holds the exception that closed it, if any. One read at a time.

    ``max_buffer_size`` (100 MiB) bounds what a pending read may buffer;
    ``max_write_buffer_size`` (unbounded) what may wait to be sent. ``read_chunk_size``
    is kept for Tornado's sake: the transport decides how much it reads at a time.

    >>> header = await stream.read_until(b"\\r\\n\\r\\n", max_bytes=65536)  # doctest: +SKIP
    >>> await stream.write(b"OK\\r\\n")  # doctest: +SKIP
    """

    def __init__(
        self,
        max_buffer_size: int | None = None,
        read_chunk_size: int | None = None,
        max_write_buffer_size: int | None = None,
    ) -> None:
        #: The loop this stream runs on.
        self.io_loop = IOLoop.current()
        self._loop = self.io_loop.asyncio_loop
        self.max_buffer_size = max_buffer_size or _DEFAULT_MAX_BUFFER_SIZE
        self.read_chunk_size = min(
            read_chunk_size or _DEFAULT_READ_CHUNK_SIZE, self.max_buffer_size // 2
        )
        self.max_write_buffer_size = max_write_buffer_size
        #: The exception that closed the stream (None: closed cleanly, or still open).
        self.error: BaseException | None = None
        self._protocol = StreamProtocol(self)
        # The transport written to, and the one read from: the same one, but for a
        # pipe stream, whose read and write transports are one-way.
        self._transport: asyncio.Transport | None = None
        self._rtransport: asyncio.Transport | None = None
        self._attach_task: asyncio.Task[None] | None = None
        self._attach_phase = NOT_STARTED
        self._close_when_attached = False
        self._final_output = b""
        self._flush_timer: asyncio.TimerHandle | None = None
        self._read_buffer = bytearray()
        self._scan_pos = 0  # read_until: the delimiter is not before here
        self._read_future: asyncio.Future[Any] | None = None
        self._read_delimiter: bytes | None = None
        self._read_regex: re.Pattern[bytes] | None = None
        self._read_max_bytes: int | None = None
        self._read_bytes: int | None = None
        self._read_partial = False
        self._read_until_close = False
        self._read_into: Any = None  # the caller's buffer of a pending read_into
        self._read_into_filled = 0
        self._reading_paused = False
        self._pause_scheduled = False
        self._peer_eof = False  # the peer closed before we took the transport over
        self._write_buffer: StreamBuffer | None = StreamBuffer()
        self._gate = WriteGate(self._loop, paused=True)  # paused: no transport yet
        self._write_paused = False  # the transport has paused writing
        self._tls_limits_pending = False  # see _attached()
        self._connect_future: asyncio.Future[Any] | None = None
        self._ssl_connect_future: asyncio.Future[Any] | None = None
        self._connecting = False
        self._close_callback: Callable[[], object] | None = None
        self._closed = False
        # IOLoop.close(all_fds=True) closes the streams on it, as Tornado's does.
        self.io_loop._streams.add(self)

    def fileno(self) -> Any:
        """The file descriptor (or socket object) under this stream."""
        raise NotImplementedError()

    # -- reading ----------------------------------------------------------------------

    def read_until_regex(
        self, regex: bytes | re.Pattern[bytes], max_bytes: int | None = None
    ) -> asyncio.Future[bytes]:
        """Read until ``regex`` matches; the result ends with the match.

        With ``max_bytes``, the stream closes if no match is found within that many
        bytes (and the read fails with :class:`StreamClosedError`).
        """
        future = self._start_read()
        self._read_regex = re.compile(regex)
        self._read_max_bytes = max_bytes
        return self._run_read(future)

    def read_until(self, delimiter: bytes, max_bytes: int | None = None) -> asyncio.Future[bytes]:
        """Read until ``delimiter``; the result ends with it.

        With ``max_bytes``, the stream closes if the delimiter is not found within that
        many bytes (and the read fails with :class:`StreamClosedError`).
        """
        future = self._start_read()
        self._read_delimiter = delimiter
        self._read_max_bytes = max_bytes
        return self._run_read(future)

    def read_bytes(self, num_bytes: int, partial: bool = False) -> asyncio.Future[bytes]:
        """Read ``num_bytes`` bytes; with ``partial``, as soon as there are any (never
        more than ``num_bytes``, and never ``b""`` unless ``num_bytes`` is 0)."""
        if not isinstance(num_bytes, int):
            raise TypeError(f"num_bytes must be an int, not {type(num_bytes).__name__}")
        future = self._start_read()
        self._read_bytes = num_bytes
        self._read_partial = partial
        return self._run_read(future)

    def read_into(self, buf: Any, partial: bool = False) -> asyncio.Future[int]:
        """Read into the writable buffer ``buf`` until it is full (with ``partial``, as
        soon as there is anything); the result is the number of bytes read. What is
        already buffered is copied in at once."""
        future = self._start_read()
        size = len(buf)
        available = min(size, len(self._read_buffer))
        if available:
            with memoryview(buf) as view, view.cast("B") as target:
                target[:available] = self._read_buffer[:available]
            del self._read_buffer[:available]
        self._read_into = buf
        self._read_into_filled = available
        self._read_bytes = size
        self._read_partial = partial
        return self._run_read(future)

    def read_until_close(self) -> asyncio.Future[bytes]:
        """Read everything until the stream closes (within ``max_buffer_size``).

        On a closed stream, the result is whatever is still buffered. For a body too
        large to buffer, loop over ``read_bytes(n, partial=True)`` instead.
        """
        future = self._start_read()
        if self._closed:
            self._finish_read(len(self._read_buffer))
            return future
        self._read_until_close = True
        return self._run_read(future)

    def reading(self) -> bool:
        """True while a read is pending."""
        future = self._read_future
        return future is not None and not future.done()

    def _start_read(self) -> asyncio.Future[Any]:
        future = self._read_future
        if future is not None:
            if not future.done():
                self._check_closed()
                raise AssertionError("Already reading")
            self._abandon_read()  # cancelled by its awaiter
        future = self._read_future = self._loop.create_future()
        return future

    def _run_read(self, future: asyncio.Future[Any]) -> asyncio.Future[Any]:
        try:
            self._try_inline_read()
        except UnsatisfiableReadError as e:
            # Like a read that fails later: the future fails, nothing is raised here.
            gen_log.info("Unsatisfiable read, closing connection: %s" % e)
            self.close(exc_info=e)
            return future
        except BaseException:
            self._abandon_read()
            raise
        return future

    def _try_inline_read(self) -> None:
        """Complete the new read from the buffer if it can be, else ask for bytes
        (raises :class:`StreamClosedError` if none can come)."""
        pos = self._find_read_pos()
        if pos is not None:
            self._finish_read(pos)
            return
        self._check_closed()
        self._want_bytes()

    def _unread(self, data: bytes) -> None:
        """Put ``data`` back at the front of the read buffer: bytes a parser read ahead
        of the message it wanted (``HTTP1Connection``), which the stream's next reader
        must see first. Only between reads."""
        assert self._read_future is None or self._read_future.done()
        if data:
            self._read_buffer[:0] = data

    def _abandon_read(self) -> None:
        self._read_future = None
        self._clear_read()

    def _clear_read(self) -> None:
        self._read_delimiter = self._read_regex = None
        self._read_max_bytes = self._read_bytes = None
        self._read_partial = self._read_until_close = False
        self._read_into = None
        self._read_into_filled = 0
        self._scan_pos = 0

    def _pending_read(self) -> bool:
        future = self._read_future
        if future is None:
            return False
        if future.done():  # cancelled by its awaiter: nothing is consumed for it
            self._abandon_read()
            return False
        return True

    def _find_read_pos(self) -> int | None:
        """Where the pending read can end in the buffer (None: not yet)."""
        buf = self._read_buffer
        num_bytes = self._read_bytes
        if num_bytes is not None:
            have = self._read_into_filled if self._read_into is not None else len(buf)
            if have >= num_bytes or (self._read_partial and have):
                return min(num_bytes, have)
            return None
        delimiter = self._read_delimiter
        if delimiter is not None:
            if buf:
                loc = buf.find(delimiter, self._scan_pos)
                if loc != -1:
                    end = loc + len(delimiter)
                    self._check_max_bytes(delimiter, end)
                    return end
                # Searched up to here: the next search starts where a delimiter
                # straddling the end of this data could begin.
                self._scan_pos = max(0, len(buf) - len(delimiter) + 1)
                self._check_max_bytes(delimiter, len(buf))
            return None
        regex = self._read_regex
        if regex is not None and buf:
            match = regex.search(buf)
            if match is not None:
                end = match.end()
                self._check_max_bytes(regex, end)
                return end
            self._check_max_bytes(regex, len(buf))
        return None

    def _check_max_bytes(self, delimiter: bytes | re.Pattern[bytes], size: int) -> None:
        limit = self._read_max_bytes
        if limit is not None and size > limit:
            raise UnsatisfiableReadError(f"delimiter {delimiter!r} not found within {limit} bytes")

    def _finish_read(self, pos: int, result: bytes | int | None = None) -> None:
        """Complete the pending read with ``pos`` bytes of the buffer (or ``result``)."""
        future = self._read_future
        self._read_future = None
        if result is not None:
            pass
        elif self._read_into is not None:
            result = self._read_into_filled
        else:
            result = self._consume(pos)
        self._clear_read()
        if future is not None and not future.done():
            future.set_result(result)
        if not self._pause_scheduled:
            self._schedule_pause()

    def _consume(self, size: int) -> bytes:
        buf = self._read_buffer
        if size == len(buf):
            data = bytes(buf)
            buf.clear()
            return data
        if size <= 2048:
            data = bytes(buf[:size])  # two small copies beat making views
        else:
            with memoryview(buf) as view, view[:size] as head:
                data = head.tobytes()
        del buf[:size]
        return data

    def _check_closed(self) -> None:
        if self._closed:
            raise StreamClosedError(real_error=self.error)

    # -- what the transport says ------------------------------------------------------------

    def _data(self, data: bytes) -> None:
        if self._closed:
            return
        if self._read_into is not None and self._pending_read():
            data = self._fill_into(data)
            if not data:
                return
        want = self._read_bytes
        if (
            want is not None
            and self._read_into is None
            and not self._read_buffer
            and self._pending_read()
        ):
            # read_bytes on an empty buffer: hand over the transport's bytes object
            # itself (or a slice), not a copy through the buffer.
            size = len(data)
            if size >= want or self._read_partial:
                if size > want:
                    self._read_buffer += memoryview(data)[want:]
                    data = data[:want]
                self._finish_read(0, data)
                return
        self._read_buffer += data
        if not self._pending_read():
            self._schedule_pause()
            return
        try:
            pos = self._find_read_pos()
        except UnsatisfiableReadError as e:
            gen_log.info("Unsatisfiable read, closing connection: %s" % e)
            self.close(exc_info=e)
            return
        if pos is not None:
            self._finish_read(pos)
        elif len(self._read_buffer) > self.max_buffer_size:
            gen_log.error("Reached maximum read buffer size")
            error = StreamBufferFullError("Reached maximum read buffer size")
            gen_log.warning("error on read: %s" % error)
            self.close(exc_info=error)

    def _fill_into(self, data: bytes) -> bytes:
        """Copy what the pending ``read_into`` still needs straight into its buffer;
        return the rest."""
        filled = self._read_into_filled
        assert self._read_bytes is not None
        take = min(len(data), self._read_bytes - filled)
        with memoryview(self._read_into) as view, view.cast("B") as target:
            target[filled : filled + take] = data[:take] if take < len(data) else data
        self._read_into_filled = filled + take
        if self._find_read_pos() is not None:
            self._finish_read(0)
        return data[take:] if take < len(data) else b""

    def _lost(self, role: int, exc: Exception | None) -> None:
        if role & WRITE:
            self._transport = None
        if role & READ:
            self._rtransport = None
        if self._transport is None and self._rtransport is None and self._flush_timer:
            self._flush_timer.cancel()
            self._flush_timer = None
        if self._closed:
            return
        if exc is not None and not self._is_connreset(exc):
            if self.reading():
                gen_log.warning("error on read: %s" % exc)
            else:
                gen_log.warning("Write error on %s: %s", self.fileno(), exc)
        self.close(exc_info=exc if exc is not None else False)

    def _attached(self, transport: asyncio.BaseTransport, role: int) -> None:
        """The transport for ``role`` is ready (connected, handshake done)."""
        if role & WRITE:
            self._transport = transport  # type: ignore[assignment]
        if role & READ:
            self._rtransport = transport  # type: ignore[assignment]
        if self._closed:
            if self._close_when_attached and role & WRITE:
                self._loop.call_soon(self._write_final_output)
            else:
                self._shut_transports()
            return
        tls = transport.get_extra_info("sslcontext") is not None
        if role & WRITE:
            if tls:
                # A TLS transport may still hold the handshake's last bytes (session
                # tickets), sent with the next write and counted meanwhile: its limits
                # are set after our first write, or it would pause us for bytes that
                # only our writing can move.
                self._tls_limits_pending = True
            else:
                # Paused exactly while the transport holds anything.
                transport.set_write_buffer_limits(high=0, low=0)  # type: ignore[attr-defined]
        if role & READ:
            self._reading_paused = False
            if tls:
                # uvloop sends the handshake's last flight from its first read, which
                # a paused reader would skip: decide after that read has run.
                self._loop.call_soon(self._schedule_pause)
            else:
                self._schedule_pause()
        connect_future = self._connect_future
        if connect_future is not None and self._connecting:
            self._connect_future = None
            self._connecting = False
            if not connect_future.done():
                connect_future.set_result(self)
        self._on_ready()
        if role & WRITE:
            if self._write_buffer:
                # Not from inside connection_made(): asyncio's pipe transport starts
                # watching its descriptor after it, even if a write there failed.
                self._loop.call_soon(self._pump)
            else:
                self._pump()

    def _write_final_output(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(self._final_output)
        self._final_output = b""
        self._shut_transports(flush=True)

    def _on_ready(self) -> None:
        """Hook: the transport is ready (SSLIOStream resolves its handshake here)."""

    def _attach_failed(self, error: BaseException) -> None:
        self._attach_task = None
        self.close(exc_info=error)

    def _is_connreset(self, exc: BaseException) -> bool:
        """True if ``exc`` says the peer reset or went away: a close, not an error."""
        if isinstance(exc, (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)):
            return True
        return isinstance(exc, OSError) and exc.errno in _ERRNO_CONNRESET

    # -- reading on and off -------------------------------------------------------------

    def _schedule_pause(self) -> None:
        if not self._pause_scheduled and not self._closed:
            self._pause_scheduled = True
            self._loop.call_soon(self._maybe_pause)

    def _maybe_pause(self) -> None:
        self._pause_scheduled = False
        transport = self._rtransport
        if transport is None or self._closed or self._reading_paused or self._pending_read():
            return
        if self._close_callback is not None and not self._read_buffer:
            return  # idle: keep listening, so the close is noticed
        self._reading_paused = True
        transport.pause_reading()

    def _want_bytes(self) -> None:
        if self._peer_eof:
            self._peer_eof = False
            self._loop.call_soon(self._eof)
            return
        transport = self._rtransport
        if transport is not None and self._reading_paused and not self._closed:
            self._reading_paused = False
            transport.resume_reading()

    # -- writing ------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> asyncio.Future[None]:
        """Write ``data``; the future resolves once it (and everything written before
        it) has been flushed to the operating system.

        Raises :class:`StreamClosedError` on a closed stream, and
        :class:`StreamBufferFullError` if the output waiting to be sent would exceed
        ``max_write_buffer_size``.
        """
        self._check_closed()
        if data:
            if isinstance(data, memoryview):
                data = data.cast("B")  # so that len() counts bytes
            if (
                self.max_write_buffer_size is not None
                and self._output_size() + len(data) > self.max_write_buffer_size
            ):
                raise StreamBufferFullError("Reached maximum write buffer size")
            if not self._can_write():
                error = OSError(errno.EBADF, "stream is not open for writing")
                gen_log.warning("Write error on %s: %s", self.fileno(), error)
                self.close(exc_info=error)
                return failed_future(self._loop, StreamClosedError(real_error=error))
            transport = self._transport
            buf = self._write_buffer
            assert buf is not None
            if transport is None or buf or self._write_paused or len(data) > WRITE_CHUNK_SIZE:
                buf.append(data)
                if transport is not None:
                    self._pump()
            else:
                # A copy of mutable data: a transport may keep what it cannot send yet.
                self._send(transport, data if type(data) is bytes else bytes(data))
        gate = self._gate
        return gate.waiter() if gate.paused else gate.ready()

    def _send(self, transport: asyncio.Transport, data: bytes) -> None:
        transport.write(data)
        if self._tls_limits_pending:
            # TLS transports pause at size >= high (plain ones at size > high):
            # paused exactly while anything is buffered.
            self._tls_limits_pending = False
            transport.set_write_buffer_limits(high=1, low=0)

    def _pump(self) -> None:
        """Hand the transport our buffered output, a chunk at a time while it takes it
        without pausing us; the write futures resolve once both are empty."""
        transport = self._transport
        buf = self._write_buffer
        if transport is None or buf is None or self._closed:
            return  # (once closed, the write futures fail whatever the transport says)
        while buf and not self._write_paused and not transport.is_closing():
            with buf.peek(WRITE_CHUNK_SIZE) as view:
                chunk = view.tobytes()
            buf.advance(len(chunk))
            self._send(transport, chunk)
        # The transport pauses us while it holds anything: not paused, all is flushed.
        if buf or self._write_paused:
            self._gate.pause()
        else:
            self._gate.resume()

    def writing(self) -> bool:
        """True while written bytes are waiting to be flushed."""
        return not self._closed and self._output_size() > 0

    def _output_size(self) -> int:
        transport = self._transport
        size = transport.get_write_buffer_size() if transport is not None else 0
        return size + len(self._write_buffer or ())

    def _can_write(self) -> bool:
        return True

    # -- closing ------------------------------------------------------------------------

    def set_close_callback(self, callback: Callable[[], object] | None) -> None:
        """Call ``callback()`` (on a later loop turn) once the stream closes.

        Futures already tell their awaiters; this tells whoever is not reading or
        writing at the time. A callback set after the close is not called.
        """
        self._close_callback = callback
        if callback is None:
            self._schedule_pause()
        elif not self._read_buffer and not self._closed:
            self._want_bytes()  # listen while idle, to notice the peer leaving

    def closed(self) -> bool:
        """True once the stream is closed (by us, the peer or an error)."""
        return self._closed

    def close(self, exc_info: ExcInfo = False) -> None:
        """Close the stream.

        ``exc_info`` records why in ``error``: an exception, a ``sys.exc_info()``
        tuple, or True for the exception being handled. A pending read that the
        buffered bytes satisfy completes (``read_until_close`` with them all, unless an
        error closed the stream); every other pending future fails.
        """
        if not self._closed:
            if exc_info:
                if isinstance(exc_info, tuple):
                    self.error = exc_info[1]
                elif isinstance(exc_info, BaseException):
                    self.error = exc_info
                else:
                    current = sys.exc_info()
                    if current[1] is not None:
                        self.error = current[1]
            if self._pending_read():
                if self._read_until_close:
                    # A reset counts as a close (some platforms report a clean close
                    # so); any other error leaves the read to fail, not to return a
                    # truncated body as if it were whole.
                    if self.error is None or self._is_connreset(self.error):
                        self._finish_read(len(self._read_buffer))
                else:
                    try:
                        pos = self._find_read_pos()
                    except UnsatisfiableReadError:
                        pos = None
                    if pos is not None:
                        self._finish_read(pos)
            self._closed = True
            self._shut_transports()
        self._signal_closed()

    def _shut_transports(self, flush: bool = False) -> None:
        writer, reader = self._transport, self._rtransport
        if writer is None and reader is None:
            self._shut_unattached()
            return
        if writer is not None:
            if not flush and (self._write_buffer or writer.get_write_buffer_size()):
                writer.abort()  # what the kernel has not taken is dropped, as in Tornado
            elif writer.get_write_buffer_size():
                writer.close()  # sends what is buffered first
                if self._flush_timer is None:
                    self._flush_timer = self._loop.call_later(CLOSE_FLUSH_SECONDS, writer.abort)
            else:
                tls = writer.get_extra_info("sslcontext") is not None
                writer.close()
                if tls:
                    # The close_notify is sent; its answer is not waited for (RFC 8446
                    # §6.1 allows it): the socket closes now, as Tornado's does, and
                    # what the peer still sends gets a reset, not a reader that
                    # discards it for up to the TLS shutdown timeout.
                    writer.abort()
        if reader is not None and reader is not writer:
            reader.close()

    def _shut_unattached(self) -> None:
        task = self._attach_task
        if task is None or task.done():
            self._close_file()
            return
        buf = self._write_buffer
        if buf and not self._connecting:
            # Written before the transport was ready: it still goes out, then closes.
            self._close_when_attached = True
            self._final_output += buf.pop_all()
            return
        task.cancel()
        if self._attach_phase == NOT_STARTED:
            self._close_file()  # a task cancelled before it ran does nothing

    def _close_file(self) -> None:
        """Hook: close the file of a stream that never got a transport."""

    def _signal_closed(self) -> None:
        error = self.error
        futures: list[asyncio.Future[Any]] = []
        if self._read_future is not None:
            futures.append(self._read_future)
            self._abandon_read()
        if self._connect_future is not None:
            futures.append(self._connect_future)
            self._connect_future = None
        for future in futures:
            if not future.done():
                future.set_exception(StreamClosedError(real_error=error))
                future.exception()  # retrieved: the awaiter may have given up
        self._gate.lost(error=lambda: StreamClosedError(real_error=error))
        ssl_future = self._ssl_connect_future
        if ssl_future is not None:
            # Whoever waits for the handshake wants the real error (an SSLError).
            if not ssl_future.done():
                ssl_future.set_exception(error if error is not None else StreamClosedError())
                ssl_future.exception()
            self._ssl_connect_future = None
        callback = self._close_callback
        if callback is not None:
            self._close_callback = None
            self.io_loop.add_callback(callback)
        if self._write_buffer is not None:
            self._write_buffer.clear()  # release views of the callers' data
            self._write_buffer = None
