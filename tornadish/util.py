"""Small utilities Tornado applications import from ``tornado.util``.

``ObjectDict``, ``import_object``, ``errno_from_exception``, ``re_unescape`` and the
streaming ``GzipDecompressor`` behave as in Tornado 6; ``TimeoutError`` is
:class:`asyncio.TimeoutError`, as in Tornado (the builtin on Python 3.11+; on 3.10 the class
``asyncio.wait_for`` raises, so ``except asyncio.TimeoutError`` catches ours there too).
"""

from __future__ import annotations

import asyncio
import datetime
import importlib
import inspect
import re
import warnings
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import TracebackType
from typing import Any, NoReturn

__all__ = [
    "ArgReplacer",
    "Configurable",
    "GzipDecompressor",
    "ObjectDict",
    "TimeoutError",
    "basestring_type",
    "bytes_type",
    "errno_from_exception",
    "exec_in",
    "import_object",
    "raise_exc_info",
    "re_unescape",
    "timedelta_to_seconds",
    "unicode_type",
]

TimeoutError = asyncio.TimeoutError
"""The exception for timeouts: :class:`asyncio.TimeoutError`, which is the builtin
``TimeoutError`` since Python 3.11."""

unicode_type = str
"""Alias of :class:`str`, kept for code written for Python 2 era Tornado."""

basestring_type = str
"""Alias of :class:`str`, kept for code written for Python 2 era Tornado."""

bytes_type = bytes
"""Alias of :class:`bytes`, kept for code written for Python 2 era Tornado."""


class ObjectDict(dict[str, Any]):
    """A dict whose keys can also be read and written as attributes.

    >>> d = ObjectDict(a=1)
    >>> d.b = 2
    >>> d.a, d["b"]
    (1, 2)
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            # AttributeError (not KeyError) keeps hasattr() and copy/pickle working.
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self[name] = value


def import_object(name: str) -> Any:
    """Import a module, or an object inside one, from its dotted name.

    >>> import_object("os.path") is import_object("os").path
    True
    >>> import_object("os.path.join").__name__
    'join'

    A missing attribute raises :class:`ImportError`, like a missing module.
    """
    if "." not in name:
        return importlib.import_module(name)
    parent_name, _, attr = name.rpartition(".")
    parent = importlib.import_module(parent_name)
    try:
        return getattr(parent, attr)
    except AttributeError:
        pass
    # Not an attribute (yet): it may be a submodule nobody imported so far.
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as e:
        if e.name != name:
            raise
        raise ImportError(f"No module named {attr}") from None


def errno_from_exception(e: BaseException) -> int | None:
    """The errno of an exception: ``e.errno`` if set, else its first argument, else None.

    >>> errno_from_exception(OSError(32, "Broken pipe"))
    32
    >>> errno_from_exception(Exception()) is None
    True
    """
    errno = getattr(e, "errno", None)
    if errno is not None:
        return errno  # type: ignore[no-any-return]
    if e.args:
        return e.args[0]  # type: ignore[no-any-return]
    return None


_RE_UNESCAPE = re.compile(r"\\(?:([a-zA-Z0-9])|(.))", re.DOTALL)


def _re_unescape_one(m: re.Match[str]) -> str:
    if m.group(1):
        # \d, \w, \1 ... mean something other than the character itself.
        raise ValueError(f"cannot unescape {m.group(0)!r}")
    return m.group(2)


def re_unescape(s: str) -> str:
    r"""Undo :func:`re.escape`: turn ``\.`` back into ``.`` and so on.

    Escaped letters and digits (``\d``, ``\1``) have a special meaning rather than
    standing for themselves, so they raise :class:`ValueError`.

    >>> re_unescape(r"/a\.b\-c")
    '/a.b-c'
    """
    return _RE_UNESCAPE.sub(_re_unescape_one, s)


def timedelta_to_seconds(td: datetime.timedelta) -> float:
    """Total seconds in ``td`` (same as ``td.total_seconds()``)."""
    return td.total_seconds()


def exec_in(code: Any, glob: dict[str, Any], loc: Mapping[str, Any] | None = None) -> None:
    """``exec(code, glob, loc)``; a string is compiled first so that it does not inherit
    the caller's ``from __future__`` imports (as in Tornado)."""
    if isinstance(code, str):
        code = compile(code, "<string>", "exec", dont_inherit=True)
    exec(code, glob, loc)


class ArgReplacer:
    """Reads or replaces one named argument in an ``args, kwargs`` pair.

    The function's signature tells whether the argument would be passed by position or
    by keyword, so decorators can find it either way.

    >>> def f(a, callback=None): pass
    >>> r = ArgReplacer(f, "callback")
    >>> r.get_old_value((1, 2), {})
    2
    >>> r.replace(3, (1, 2), {})
    (2, [1, 3], {})
    >>> r.replace(3, (1,), {})
    (None, (1,), {'callback': 3})
    """

    def __init__(self, func: Callable[..., Any], name: str) -> None:
        self.name = name
        try:
            self.arg_pos: int | None = self._getargnames(func).index(name)
        except ValueError:
            self.arg_pos = None  # not a positional parameter

    def _getargnames(self, func: Callable[..., Any]) -> list[str]:
        try:
            return inspect.getfullargspec(func).args
        except TypeError:
            if hasattr(func, "func_code"):
                # Cython functions carry the code attributes inspect will not read.
                code = func.func_code
                return list(code.co_varnames[: code.co_argcount])
            raise

    def get_old_value(
        self, args: Sequence[Any], kwargs: dict[str, Any], default: Any = None
    ) -> Any:
        """The argument's current value, or ``default`` if it was not passed."""
        if self.arg_pos is not None and len(args) > self.arg_pos:
            return args[self.arg_pos]
        return kwargs.get(self.name, default)

    def replace(
        self, new_value: Any, args: Sequence[Any], kwargs: dict[str, Any]
    ) -> tuple[Any, Sequence[Any], dict[str, Any]]:
        """Put ``new_value`` in place of the argument; return ``(old_value, args, kwargs)``.

        Passed by position, it is replaced in a new list of ``args``; otherwise it is set
        in ``kwargs`` (mutated), and ``old_value`` is ``None`` if it was absent.
        """
        if self.arg_pos is not None and len(args) > self.arg_pos:
            old_value = args[self.arg_pos]
            args = list(args)
            args[self.arg_pos] = new_value
        else:
            old_value = kwargs.get(self.name)
            kwargs[self.name] = new_value
        return old_value, args, kwargs


def _websocket_mask_python(mask: bytes, data: bytes) -> bytes:
    """Apply a WebSocket masking key to ``data`` (RFC 6455, 5.3); ``mask`` is 4 bytes.

    >>> _websocket_mask_python(b"abcd", _websocket_mask_python(b"abcd", b"hello"))
    b'hello'
    """
    if len(mask) != 4:
        raise ValueError("mask must be 4 bytes")
    if not data:
        return b""
    # XOR as one big integer: the same result as Tornado's byte loop, at C speed.
    n = len(data)
    key = (mask * (n // 4 + 1))[:n]
    value = int.from_bytes(data, "big") ^ int.from_bytes(key, "big")
    return value.to_bytes(n, "big")


_websocket_mask = _websocket_mask_python
"""Tornado's name for the fastest mask function available (its C speedup there)."""


def raise_exc_info(
    exc_info: tuple[type[BaseException] | None, BaseException | None, TracebackType | None],
) -> NoReturn:
    """Re-raise the exception of a ``sys.exc_info()`` triple with its traceback."""
    exc = exc_info[1]
    if exc is None:
        raise TypeError("raise_exc_info called with no exception")
    raise exc.with_traceback(exc_info[2])


class Configurable:
    """A base class whose constructor builds whichever implementation was configured.

    ``Resolver()`` or ``AsyncHTTPClient()`` in Tornado are such classes: the base class is
    the interface, :meth:`configure` picks the implementation (and default keyword
    arguments) for the whole process, and ``isinstance`` keeps working.

    Subclasses define :meth:`configurable_base` (the class at the top of the configurable
    hierarchy) and :meth:`configurable_default`, and set themselves up in ``initialize``
    rather than ``__init__``. A subclass of the implementation can be configurable in its
    turn (its own ``configurable_base``): the constructor then recurses into it.

    >>> class Greeter(Configurable):
    ...     @classmethod
    ...     def configurable_base(cls): return Greeter
    ...     @classmethod
    ...     def configurable_default(cls): return Plain
    ...     def initialize(self, name="world"): self.name = name
    >>> class Plain(Greeter): pass
    >>> class Loud(Greeter): pass
    >>> type(Greeter()).__name__
    'Plain'
    >>> Greeter.configure(Loud, name="you")
    >>> g = Greeter()
    >>> type(g).__name__, g.name
    ('Loud', 'you')
    >>> Greeter.configure(None)

    The configuration is process-wide class state, as Tornado's API requires.
    """

    # Name-mangled (``_Configurable__impl_class``) so each configurable base keeps its own
    # in its own ``__dict__``, as in Tornado; read through the class hierarchy otherwise.
    __impl_class: type[Configurable] | None = None
    __impl_kwargs: dict[str, Any] | None = None

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        base = cls.configurable_base()
        init_kwargs: dict[str, Any] = {}
        if cls is base:
            impl = cls.configured_class()
            if base.__impl_kwargs:
                init_kwargs.update(base.__impl_kwargs)
        else:
            impl = cls
        init_kwargs.update(kwargs)
        if impl.configurable_base() is not base:
            # The implementation is the base of a configurable hierarchy of its own.
            return impl(*args, **init_kwargs)
        instance = super().__new__(impl)
        # ``initialize`` rather than ``__init__``: Python would call ``__init__`` again
        # with the caller's arguments only, losing the configured keyword arguments.
        instance.initialize(*args, **init_kwargs)
        return instance

    @classmethod
    def configurable_base(cls) -> type[Configurable]:
        """The base class of the configurable hierarchy (usually the defining class)."""
        raise NotImplementedError()

    @classmethod
    def configurable_default(cls) -> type[Configurable]:
        """The implementation used while none is configured."""
        raise NotImplementedError()

    def _initialize(self) -> None:
        pass

    initialize: Callable[..., None] = _initialize
    """Set up a new instance (instead of ``__init__``); takes the constructor's arguments."""

    @classmethod
    def configure(cls, impl: type[Configurable] | str | None, **kwargs: Any) -> None:
        """Choose the class the base constructor builds (a class, a dotted name, or
        ``None`` for the default) and keyword arguments added to every construction."""
        base = cls.configurable_base()
        if isinstance(impl, str):
            impl = import_object(impl)
        if impl is not None and not (isinstance(impl, type) and issubclass(impl, cls)):
            raise ValueError(f"Invalid subclass of {cls}")
        base.__impl_class = impl
        base.__impl_kwargs = kwargs

    @classmethod
    def configured_class(cls) -> type[Configurable]:
        """The class the base constructor currently builds."""
        base = cls.configurable_base()
        # Only a configuration stored on this very base counts, not one inherited from a
        # configurable base higher up the hierarchy.
        if base.__dict__.get("_Configurable__impl_class") is None:
            base.__impl_class = cls.configurable_default()
        impl = base.__impl_class
        if impl is None:
            raise ValueError("configured class not found")
        return impl

    @classmethod
    def _save_configuration(cls) -> tuple[type[Configurable] | None, dict[str, Any] | None]:
        base = cls.configurable_base()
        return (base.__impl_class, base.__impl_kwargs)

    @classmethod
    def _restore_configuration(
        cls, saved: tuple[type[Configurable] | None, dict[str, Any] | None]
    ) -> None:
        base = cls.configurable_base()
        base.__impl_class = saved[0]
        base.__impl_kwargs = saved[1]


_GZIP_MAGIC = b"\x1f\x8b"


class GzipDecompressor:
    """Streaming gzip decompressor with the interface of ``zlib.decompressobj``.

    Several gzip members one after the other (RFC 1952, 2.2) decompress as one stream;
    anything else after a member, or a stream cut off inside one, is a ``zlib.error``.

    >>> import gzip
    >>> d = GzipDecompressor()
    >>> d.decompress(gzip.compress(b"hello"), 1024), d.flush()
    (b'hello', b'')

    Pass ``max_length`` to bound the output of one call; the input not yet used is then
    in ``unconsumed_tail`` and must be passed back in before more data.
    """

    def __init__(self) -> None:
        self._member: Any = None  # the zlib decompressobj of the current member
        self._member_fed = False
        self._pending = b""  # a lone first magic byte waiting for its second
        self._tail = b""

    @property
    def unconsumed_tail(self) -> bytes:
        """Input not processed because of ``max_length``; pass it to ``decompress``."""
        return self._tail

    def decompress(self, value: bytes, max_length: int = 0) -> bytes:
        """Decompress a chunk and return whatever output became available.

        A call may return less than ``max_length`` (or nothing) while ``unconsumed_tail``
        is not empty, for instance where one member ends and the next begins; keep
        feeding the tail back until it is empty. Calling without ``max_length`` is
        deprecated (a small input can expand without bound), as in Tornado 6.6.
        """
        if not max_length:
            warnings.warn(
                "GzipDecompressor.decompress without max_length is deprecated",
                DeprecationWarning,
                stacklevel=2,
            )
        out: list[bytes] = []
        data = value
        while True:
            if self._member is None or self._member.eof:
                data = self._pending + data
                self._pending = b""
                if not data:
                    self._tail = b""
                    break
                if len(data) < 2:
                    # Not enough to check the magic yet; a later chunk completes it.
                    if data != _GZIP_MAGIC[:1]:
                        raise zlib.error(f"expected a gzip member, got {data!r}")
                    self._pending = data
                    self._tail = b""
                    break
                if data[:2] != _GZIP_MAGIC:
                    raise zlib.error(f"expected a gzip member, got {data[:2]!r}")
                self._member = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._member_fed = False
            limit = max_length - sum(map(len, out)) if max_length else 0
            chunk = self._member.decompress(data, limit)
            self._member_fed = self._member_fed or bool(data)
            out.append(chunk)
            if self._member.eof:
                data = self._member.unused_data
                if max_length and data:
                    # A bounded caller gets the next member back as its tail, so one call
                    # never produces more than it asked for.
                    self._tail = data
                    break
                continue
            self._tail = self._member.unconsumed_tail
            break
        return b"".join(out)

    def pieces(self, data: bytes, max_length: int) -> Iterator[bytes]:
        """Decompress ``data`` a bounded step at a time: yield each non-empty output of
        at most ``max_length`` bytes, feeding ``unconsumed_tail`` back in, so a gzip bomb
        never sits decompressed in memory. Raises ``zlib.error`` for bad data, and for a
        step that neither produces output nor consumes input (which would loop for ever).

        The generator may be left between steps (a consumer busy with a piece) and
        resumed later.
        """
        while data:
            out = self.decompress(data, max_length)
            tail = self.unconsumed_tail
            if not out and len(tail) >= len(data):
                raise zlib.error("encountered unconsumed gzip data without making progress")
            data = tail
            if out:
                yield out

    def flush(self) -> bytes:
        """Signal the end of input; raise if the stream stopped inside a member.

        Raises :class:`ValueError` while ``unconsumed_tail`` is not empty. Always
        returns ``b""`` (``decompress`` already returned everything).
        """
        if self._tail:
            raise ValueError("unconsumed_tail must be passed to decompress before flush")
        member_open = self._member is not None and not self._member.eof and self._member_fed
        if member_open or self._pending:
            raise zlib.error("incomplete or truncated gzip stream")
        return b""
