"""``StaticFileHandler``: files from a directory, with caching, ranges and versioning.

Safety first: every requested path is resolved (symlinks included) and must stay inside
the root directory; ``..``, absolute paths, symlinks pointing out and NUL bytes all end in
403 or 404. Files are sent in chunks, each awaited with ``flush()``, so a large file never
sits in memory and a slow client slows the reading down rather than filling buffers.

The overridable class methods and their meanings are Tornado's (``get_absolute_path``,
``validate_absolute_path``, ``get_content``, ``get_content_version``,
``make_static_url``, ...), so subclasses written for Tornado keep working.
"""

from __future__ import annotations

import datetime
import email.utils
import hashlib
import mimetypes
import os
import stat
import threading
from collections.abc import Awaitable, Iterator
from typing import Any

from tornadish._http import codings
from tornadish._http.contract import StreamClosedError
from tornadish._web.errors import HTTPError
from tornadish._web.handler import RequestHandler
from tornadish._web.security import is_protocol_relative
from tornadish.log import gen_log

__all__ = ["StaticFileHandler"]

_CHUNK = 256 * 1024  # per read and per flush: few round trips, bounded memory
# Precompressed files next to a static file, by the coding they hold.
_SIDECARS = {"br": ".br", "zstd": ".zst", "gzip": ".gz"}
# Files that are compressed already: no sidecar is looked for.
_COMPRESSED_SUFFIXES = (".br", ".zst", ".gz", ".zip", ".png", ".jpg", ".jpeg", ".webp", ".woff2")


def parse_request_range(range_header: str) -> tuple[int | None, int | None] | None:
    """Parse a ``Range: bytes=...`` header into a slice ``(start, end)``.

    ``end`` is exclusive; a suffix range ``bytes=-N`` gives ``(-N, None)``. ``None``
    means "ignore the header": another unit, malformed input, or several ranges (which
    are answered with the whole file, as Tornado does).

    >>> parse_request_range("bytes=0-99"), parse_request_range("bytes=-5")
    ((0, 100), (-5, None))
    >>> parse_request_range("bytes=0-1,5-6") is None
    True
    """
    unit, _, value = range_header.partition("=")
    if unit.strip() != "bytes":
        return None
    first, _, last = value.partition("-")
    try:
        start = int(first) if first.strip() else None
        end = int(last) if last.strip() else None
    except ValueError:
        return None
    if end is not None:
        if start is None:
            if end != 0:  # bytes=-N: the last N bytes
                start, end = -end, None
        else:
            end += 1  # inclusive in HTTP, exclusive here
    return start, end


def _read_file(abspath: str, start: int | None, end: int | None) -> Iterator[bytes]:
    with open(abspath, "rb") as f:
        if start is not None:
            f.seek(start)
        remaining = None if end is None else end - (start or 0)
        while remaining is None or remaining > 0:
            want = _CHUNK if remaining is None else min(_CHUNK, remaining)
            chunk = f.read(want)
            if not chunk:
                return  # the file shrank: the response will be short
            if remaining is not None:
                remaining -= len(chunk)
            yield chunk


def _with_separator(directory: str) -> str:
    # "/srv/static" must not admit "/srv/static-old". (A root of "/" already ends with
    # the separator.)
    return directory if directory.endswith(os.path.sep) else directory + os.path.sep


def _lies_in(path: str, directory: str) -> bool:
    """Whether ``path`` is ``directory`` (given with its trailing separator) or below it."""
    return (path + os.path.sep).startswith(directory)


class StaticFileHandler(RequestHandler):
    """Serves files below ``path``.

    Normally set up by the ``static_path`` application setting (see also
    ``static_url_prefix``, ``static_handler_class``, ``static_handler_args``); add it to
    the routes yourself for other directories. The route needs one group, the path
    relative to the root:

    >>> Application([
    ...     (r"/content/(.*)", StaticFileHandler, {"path": "/var/www"}),
    ... ])                                                      # doctest: +SKIP

    ``default_filename`` (e.g. ``"index.html"``) is served for a directory; a directory
    URL without its trailing slash is redirected to have one. Symlinks are followed only
    to targets inside the root, or inside ``allowed_symlink_directory`` (a directory or
    a list of them) when given.

    Responses carry ``ETag`` (the content hash) and ``Last-Modified``, so
    ``If-None-Match``/``If-Modified-Since`` get 304; ``Range`` requests for one range get
    206 (416 when unsatisfiable). Requests with a ``v`` argument (the URLs
    ``static_url`` makes) are cached by browsers for ``CACHE_MAX_AGE`` seconds.

    Precompressed copies next to a file (``app.js.br``, ``app.js.zst``, ``app.js.gz``,
    made at build time with the strongest settings) are served instead of it to a client
    whose ``Accept-Encoding`` takes that coding (br, then zstd, then gzip at equal
    weight), with ``Content-Encoding``, the original's ``Content-Type`` and the copy's
    own ``ETag``; every response of a file that has such copies says
    ``Vary: Accept-Encoding``. ``Range`` requests always get the file itself.
    """

    CACHE_MAX_AGE = 86400 * 365 * 10  # 10 years, as in Tornado

    MAX_VERSION_CONTENT_SIZE = 64 * 1024 * 1024
    """The largest file :meth:`get_content_version` hashes. Hashing is synchronous
    (``static_url`` waits for it), so a larger file gets no version rather than
    blocking the event loop."""

    MAX_CACHED_VERSIONS = 10000
    """How many versions are cached; past it the least recently used is forgotten (and
    its file read again when needed). Bounds memory when ``static_url`` is called with
    many distinct paths."""

    # Content hashes by absolute path, least recently used first. A class-level cache
    # because Tornado's API (``reset``, ``get_version`` as class methods) makes it one;
    # the lock matters for applications that call static_url from threads.
    _static_hashes: dict[str, str | None] = {}
    _lock = threading.Lock()

    root: str
    default_filename: str | None
    path: str
    # Defaults on the class, not only in initialize(): subclasses (Jupyter's
    # FileFindHandler) replace initialize() without calling ours.
    allowed_symlink_directory: str | list[str] | None = None
    absolute_path: str | None = None
    modified: datetime.datetime | None = None
    _stat_result: os.stat_result | None = None
    _identity_path: str | None = None  # the file itself, where a sidecar is served

    def initialize(
        self,
        path: str,
        default_filename: str | None = None,
        allowed_symlink_directory: str | list[str] | None = None,
    ) -> None:
        self.root = path
        self.default_filename = default_filename
        self.allowed_symlink_directory = allowed_symlink_directory

    @classmethod
    def reset(cls) -> None:
        """Forget every cached content hash."""
        with cls._lock:
            cls._static_hashes = {}

    def head(self, path: str) -> Awaitable[None]:
        """Like GET, headers only."""
        return self.get(path, include_body=False)

    async def get(self, path: str, include_body: bool = True) -> None:
        """Serve the file at ``path`` (relative to the root)."""
        self.path = self.parse_url_path(path)
        del path  # only self.path from here on: it is the parsed one
        absolute_path = self.get_absolute_path(self.root, self.path)
        self.absolute_path = self.validate_absolute_path(self.root, absolute_path)
        if self.absolute_path is None:
            return
        self._choose_sidecar(self.absolute_path)
        self.modified = self.get_modified_time()
        self.set_headers()
        if self.should_return_304():
            self.set_status(304)
            return

        size = self.get_content_size()
        start: int | None = None
        end: int | None = None
        range_header = self.request.headers.get("Range")
        request_range = parse_request_range(range_header) if range_header else None
        if request_range is not None:
            start, end = request_range
            if start is not None and start < 0:
                start = max(start + size, 0)
            if (start is not None and (start >= size or (end is not None and start >= end))) or (
                end == 0
            ):
                # Nothing of the file is in the range: RFC 9110 §15.5.17 wants the size.
                self.set_status(416)
                self.set_header("Content-Type", "text/plain")
                self.set_header("Content-Range", f"bytes */{size}")
                return
            if end is not None and end > size:
                end = size  # a range past the end is cut to the file, not refused
            if size != (end or size) - (start or 0):
                self.set_status(206)
                first = start or 0
                last = (end or size) - 1
                self.set_header("Content-Range", f"bytes {first}-{last}/{size}")
            else:
                start = end = None  # the range is the whole file: a plain 200
        if start is not None and end is not None:
            length = end - start
        elif end is not None:
            length = end
        elif start is not None:
            length = size - start
        else:
            length = size
        self.set_header("Content-Length", length)

        if include_body:
            content = self.get_content(self.absolute_path, start, end)
            chunks = [content] if isinstance(content, bytes) else content
            for chunk in chunks:
                try:
                    self.write(chunk)
                    await self.flush()
                except StreamClosedError:
                    return  # the client went away; nothing left to do
        else:
            assert self.request.method == "HEAD"

    def _choose_sidecar(self, absolute_path: str) -> None:
        # Precompressed copies (see the class docstring): a stat per coding the file
        # could have, only for clients that accept any.
        if absolute_path.endswith(_COMPRESSED_SUFFIXES):
            return
        accept = self.request.headers.get("Accept-Encoding")
        if not accept:
            return
        present = tuple(
            coding
            for coding, suffix in _SIDECARS.items()
            if os.path.isfile(absolute_path + suffix)
            and not os.path.islink(absolute_path + suffix)  # next to the file, not elsewhere
        )
        if not present:
            return
        self.set_header("Vary", "Accept-Encoding")
        if "Range" in self.request.headers:
            return
        coding = codings.choose(accept, present)
        if coding is None:
            return
        self._identity_path = absolute_path
        self.absolute_path = absolute_path + _SIDECARS[coding]
        self._stat_result = os.stat(self.absolute_path)
        self.set_header("Content-Encoding", coding)

    def compute_etag(self) -> str | None:
        """The ETag: the content hash (see :meth:`get_content_version`)."""
        assert self.absolute_path is not None
        version_hash = self._get_cached_version(self.absolute_path, self.settings)
        if not version_hash:
            return None
        return f'"{version_hash}"'

    def set_headers(self) -> None:
        """Set the caching and type headers of a (non-error) response."""
        self.set_header("Accept-Ranges", "bytes")
        self.set_etag_header()
        if self.modified is not None:
            self.set_header("Last-Modified", self.modified)
        content_type = self.get_content_type()
        if content_type:
            self.set_header("Content-Type", content_type)
        cache_time = self.get_cache_time(self.path, self.modified, content_type)
        if cache_time > 0:
            expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(
                seconds=cache_time
            )
            self.set_header("Expires", expires)
            self.set_header("Cache-Control", f"max-age={cache_time}")
        self.set_extra_headers(self.path)

    def should_return_304(self) -> bool:
        """Whether the client's cached copy is still good (``If-None-Match`` wins over
        ``If-Modified-Since``, RFC 9110 §13.1.3)."""
        if self.request.headers.get("If-None-Match"):
            return self.check_etag_header()
        ims_value = self.request.headers.get("If-Modified-Since")
        if ims_value is None or self.modified is None:
            return False
        try:
            if_since = email.utils.parsedate_to_datetime(ims_value)
        except (TypeError, ValueError, IndexError):
            return False  # an unreadable date is no condition at all
        if if_since.tzinfo is None:
            if_since = if_since.replace(tzinfo=datetime.timezone.utc)
        return if_since >= self.modified

    @classmethod
    def get_absolute_path(cls, root: str, path: str) -> str:
        """The absolute filesystem path of ``path`` below ``root``.

        403 if ``path`` leads out of ``root`` as written (``../``, an absolute path);
        symlinks are checked by :meth:`validate_absolute_path`. This check is also
        what keeps :meth:`get_version` (``static_url``) from reading files elsewhere.
        """
        absolute_path = os.path.abspath(os.path.join(root, path))
        cls._check_in_root(root, absolute_path, path)
        return absolute_path

    def validate_absolute_path(self, root: str, absolute_path: str) -> str | None:
        """Check ``absolute_path`` is a regular file inside ``root``; return the path to
        serve.

        403 for a path outside the root, a symlink whose target is outside the root (or
        outside ``allowed_symlink_directory``, when given), or anything but a regular
        file (directories, devices, FIFOs); 404 for a missing file. A directory is
        served through ``default_filename``; a directory URL without its trailing slash
        is redirected (``None`` is returned: the response is done).
        """
        if "\x00" in absolute_path:
            raise HTTPError(404)  # no file has a NUL in its name; don't ask the OS
        # As written first: refuses ../ and absolute paths without touching the disk.
        # ``root`` is the directory to check against (a subclass searching several
        # passes the one that matched), not necessarily self.root.
        root = self._check_in_root(root, absolute_path, self.path)
        allowed = self.allowed_symlink_directory or root
        allowed_dirs = [allowed] if isinstance(allowed, str) else list(allowed)
        # Then resolved: a link inside the root may name any file on the system.
        absolute_path = self._resolve_symlink_target(absolute_path, allowed_dirs, self.path)
        if os.path.isdir(absolute_path) and self.default_filename is not None:
            # request.path, not self.path: the route may have consumed a prefix, and the
            # file path of the root directory itself is empty.
            if not self.request.path.endswith("/"):
                if is_protocol_relative(self.request.path):
                    # "//host/..." would be a protocol-relative URL: an open redirect.
                    raise HTTPError(403, "cannot redirect path with two initial slashes")
                self.redirect(self.request.path + "/", permanent=True)
                return None
            absolute_path = os.path.join(absolute_path, self.default_filename)
            # The default file may itself be a link.
            absolute_path = self._resolve_symlink_target(absolute_path, allowed_dirs, self.path)
        # One stat, kept for the size and date: they describe the file checked here.
        self._stat_result = self._stat_regular_file(absolute_path, self.path)
        return absolute_path

    @staticmethod
    def _check_in_root(root: str, absolute_path: str, path_message: str) -> str:
        """``root`` normalized, with a trailing separator; 403 unless ``absolute_path``
        (as written) lies inside it."""
        root = _with_separator(os.path.abspath(root))
        if not _lies_in(absolute_path, root):
            raise HTTPError(403, "%s is not in root static directory", path_message)
        if os.name == "nt" and ":" in absolute_path[len(root) :]:
            # "file.txt:stream" names an NTFS alternate data stream, not a file.
            raise HTTPError(403, "%s is not a file", path_message)
        return root

    @staticmethod
    def _resolve_symlink_target(
        absolute_path: str, allowed_dirs: list[str], path_message: str
    ) -> str:
        """``absolute_path`` with its symlinks resolved; 403 unless that lies inside
        one of ``allowed_dirs`` (resolved too). A check of the filesystem at one
        moment: no substitute for permissions on a directory others can write to."""
        resolved = os.path.realpath(absolute_path)
        for directory in allowed_dirs:
            if _lies_in(resolved, _with_separator(os.path.realpath(directory))):
                return resolved
        raise HTTPError(403, "%s is not in root static directory", path_message)

    @staticmethod
    def _stat_regular_file(absolute_path: str, path_message: str) -> os.stat_result:
        """The stat of ``absolute_path``: 404 if there is none, 403 unless it is a
        regular file. Never read a directory, a device (``/dev/zero`` never ends) or
        a FIFO (opening one blocks until there is a writer)."""
        try:
            result = os.stat(absolute_path)
        except (OSError, ValueError):  # ValueError: a NUL in the path
            raise HTTPError(404) from None
        if not stat.S_ISREG(result.st_mode):
            raise HTTPError(403, "%s is not a file", path_message)
        return result

    @classmethod
    def get_content(
        cls, abspath: str, start: int | None = None, end: int | None = None
    ) -> bytes | Iterator[bytes]:
        """The content of ``abspath`` from ``start`` to ``end`` (exclusive), as bytes or
        an iterator of chunks. The default reads the file lazily, a chunk at a time;
        it raises :class:`HTTPError` if ``abspath`` is not a regular file."""
        cls._stat_regular_file(abspath, abspath)
        return _read_file(abspath, start, end)

    @classmethod
    def get_content_version(cls, abspath: str) -> str:
        """The version string of a file: by default the hex SHA-512 of its content.

        Raises ``ValueError`` for content over :attr:`MAX_VERSION_CONTENT_SIZE`.
        """
        content = cls.get_content(abspath)
        chunks = [content] if isinstance(content, bytes) else content
        hasher = hashlib.sha512()
        size = 0
        try:
            for chunk in chunks:
                size += len(chunk)
                if size > cls.MAX_VERSION_CONTENT_SIZE:
                    raise ValueError(
                        "content is larger than MAX_VERSION_CONTENT_SIZE "
                        f"({cls.MAX_VERSION_CONTENT_SIZE} bytes)"
                    )
                hasher.update(chunk)
        finally:
            close = getattr(chunks, "close", None)
            if close is not None:
                close()  # a generator's file is closed now, not when collected
        return hasher.hexdigest()

    def _stat(self) -> os.stat_result:
        assert self.absolute_path is not None
        if self._stat_result is None:
            self._stat_result = os.stat(self.absolute_path)
        return self._stat_result

    def get_content_size(self) -> int:
        """The size of the file in bytes."""
        return self._stat().st_size

    def get_modified_time(self) -> datetime.datetime | None:
        """The file's modification time, in whole seconds (HTTP dates have no finer
        resolution, so an ``If-Modified-Since`` echo must compare equal)."""
        mtime = self._stat()[stat.ST_MTIME]
        return datetime.datetime.fromtimestamp(int(mtime), datetime.timezone.utc)

    def get_content_type(self) -> str:
        """The ``Content-Type``, guessed from the file name with :mod:`mimetypes`.

        A compressed file (``.gz``) is ``application/gzip`` (RFC 6713) rather than the
        type of what it contains, which would make clients decompress it silently.
        """
        assert self.absolute_path is not None
        # A precompressed copy has the type of the file it is a copy of.
        mime_type, encoding = mimetypes.guess_type(self._identity_path or self.absolute_path)
        if encoding == "gzip":
            return "application/gzip"
        if encoding is not None:
            return "application/octet-stream"
        return mime_type or "application/octet-stream"

    def set_extra_headers(self, path: str) -> None:
        """Hook for subclasses to add headers to every file response."""

    def get_cache_time(self, path: str, modified: datetime.datetime | None, mime_type: str) -> int:
        """Seconds a browser may cache the response: ``CACHE_MAX_AGE`` for versioned
        URLs (with a ``v`` argument), else 0 (revalidate with the ETag)."""
        return self.CACHE_MAX_AGE if "v" in self.request.arguments else 0

    @classmethod
    def make_static_url(
        cls, settings: dict[str, Any], path: str, include_version: bool = True
    ) -> str:
        """The URL for ``path``: ``static_url_prefix`` + path + ``?v=<version>``.

        Behind :meth:`RequestHandler.static_url`; override to serve static files from a
        CDN, say. ``settings`` are the application settings.
        """
        url: str = settings.get("static_url_prefix", "/static/") + path
        if not include_version:
            return url
        version_hash = cls.get_version(settings, path)
        if not version_hash:
            return url
        return f"{url}?v={version_hash}"

    def parse_url_path(self, url_path: str) -> str:
        """Turn the URL path group into a path relative to the root."""
        if os.path.sep != "/":
            url_path = url_path.replace("/", os.path.sep)
        return url_path

    @classmethod
    def get_version(cls, settings: dict[str, Any], path: str) -> str | None:
        """The version of static file ``path`` (``None`` if it cannot be read).

        ``path`` should name a known static file, not come from the request; versions
        are cached (up to :attr:`MAX_CACHED_VERSIONS`) until :meth:`reset`.
        """
        abs_path = cls.get_absolute_path(settings["static_path"], path)
        return cls._get_cached_version(abs_path, settings)

    @classmethod
    def _get_cached_version(
        cls, abs_path: str, settings: dict[str, Any] | None = None
    ) -> str | None:
        if settings is not None and not settings.get("static_hash_cache", True):
            # Debug mode: files change under us; hash every time instead of caching.
            return cls._compute_version(abs_path) or None
        with cls._lock:
            hashes = cls._static_hashes
            if abs_path in hashes:
                version = hashes[abs_path] = hashes.pop(abs_path)  # now most recent
            else:
                version = cls._compute_version(abs_path)
                while hashes and len(hashes) >= cls.MAX_CACHED_VERSIONS:
                    del hashes[next(iter(hashes))]  # the least recently used
                hashes[abs_path] = version
        return version or None

    @classmethod
    def _compute_version(cls, abs_path: str) -> str | None:
        try:
            return cls.get_content_version(abs_path)
        except Exception as e:
            gen_log.error("Could not open static file %r: %s", abs_path, e)
            return None
