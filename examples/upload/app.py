"""Streaming uploads to disk, with a progress bar in the page.

    python -m examples.upload [--port=8888] [--dir=uploads] [--max-mib=64]

``PUT /upload/<name>`` streams the request body straight into a temporary file: the
handler is decorated with ``@stream_request_body``, so ``data_received`` gets the body
chunk by chunk as it arrives and the file is never held in memory. Only when the whole
body is in is the temporary file renamed to its final name, so a half-uploaded file is
never listed or served. ``prepare`` sets the size limit of this one request
(``self.request.connection.set_max_body_size``): a body that says or turns out to be
larger gets ``400`` and its temporary file is removed.

The page sends each chosen file with ``XMLHttpRequest`` and draws its progress from
``xhr.upload.onprogress``: no JavaScript library needed.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import tempfile
from pathlib import Path
from typing import IO, Any

import tornadish
from tornadish.log import enable_pretty_logging
from tornadish.web import (
    Application,
    HTTPError,
    RequestHandler,
    StaticFileHandler,
    stream_request_body,
    url,
)

HERE = Path(__file__).parent
MiB = 1024 * 1024
log = logging.getLogger("examples.upload")

# Letters, digits and a few punctuation marks; no leading dot (hidden files), no path
# separators. Anything else is refused rather than "cleaned" into a surprising name.
_SAFE_NAME = re.compile(r"[\w(][\w .()+,=@-]{0,199}")


def checked_name(name: str) -> str:
    """``name`` if it is a safe file name, else a 400."""
    if not _SAFE_NAME.fullmatch(name) or name != name.strip():
        raise HTTPError(400, reason="unsupported file name")
    return name


class Uploads:
    """Where the files go: ``files/`` (finished) and ``incoming/`` (being written,
    on the same file system so that the final rename is atomic)."""

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.files = Path(directory) / "files"
        self.incoming = Path(directory) / "incoming"
        self.files.mkdir(parents=True, exist_ok=True)
        self.incoming.mkdir(parents=True, exist_ok=True)

    def listing(self) -> list[dict[str, Any]]:
        """The finished files, newest first."""
        entries = [
            (st.st_mtime, p.name, st.st_size)
            for p in self.files.iterdir()
            if p.is_file() and not p.name.startswith(".")
            for st in [p.stat()]
        ]
        return [{"name": n, "size": s} for _, n, s in sorted(entries, reverse=True)]


class ErrorPages(RequestHandler):
    """Error pages in the uploads' layout (``templates/error.html``), for every handler
    of the app: an unknown path, a download that is not there, a refused upload."""

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """The page in the layout; in debug mode an exception shows the traceback
        instead, as does a failure of the layout itself."""
        if self.settings.get("serve_traceback") and "exc_info" in kwargs:
            super().write_error(status_code, **kwargs)
            return
        if status_code == 404:
            message = "There is no file or page at this address."
        elif status_code < 500:
            message = "The request could not be understood."
        else:
            message = "Something went wrong on our side; please try again."
        try:
            # The reason is the HTTP phrase ("Not Found") or HTTPError's reason=.
            self.render("error.html", status_code=status_code, reason=self._reason, message=message)
        except Exception:  # raised while rendering, before anything was written
            log.exception("Could not render the error page")
            super().write_error(status_code, **kwargs)


class NotFoundHandler(ErrorPages):
    """Every path the app has no route for: its 404 page, in its layout."""

    def prepare(self) -> None:
        raise HTTPError(404)

    def check_xsrf_cookie(self) -> None:
        pass  # a PUT or POST to an unknown path is a 404, not an XSRF 403 (as Tornado's)


class IndexHandler(ErrorPages):
    def initialize(self, uploads: Uploads, max_size: int) -> None:
        self.uploads = uploads
        self.max_size = max_size

    def get(self) -> None:
        # Sets the XSRF cookie; the page's script sends it back as X-XSRFToken.
        self.xsrf_token  # noqa: B018
        self.render("index.html", files=self.uploads.listing(), max_size=self.max_size)


class ListHandler(ErrorPages):
    def initialize(self, uploads: Uploads) -> None:
        self.uploads = uploads

    def get(self) -> None:
        self.write({"files": self.uploads.listing()})


@stream_request_body
class UploadHandler(ErrorPages):
    """``PUT /upload/<name>``: the body is the file. Answers its size and SHA-256."""

    def initialize(self, uploads: Uploads, max_size: int) -> None:
        self.uploads = uploads
        self.max_size = max_size
        self.temp: IO[bytes] | None = None
        self.size = 0
        self.sha256 = hashlib.sha256()

    def prepare(self) -> None:
        # Runs once the headers are in, before any of the body is read.
        self.name = checked_name(self.path_args[0])
        # Part of the connection contract (HTTPConnection), as in Tornado; a request
        # being served always has its connection.
        connection = self.request.connection
        assert connection is not None
        connection.set_max_body_size(self.max_size)
        self.temp = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in put/on_finish
            dir=self.uploads.incoming, prefix="upload-", delete=False
        )

    def data_received(self, chunk: bytes) -> None:
        assert self.temp is not None
        # A plain blocking write: it lands in the page cache, which costs about as much
        # as copying the chunk, far less than a hop to a thread for every chunk.
        self.temp.write(chunk)
        self.sha256.update(chunk)
        self.size += len(chunk)

    def put(self, name: str) -> None:
        temp, self.temp = self.temp, None
        assert temp is not None
        temp.close()
        os.replace(temp.name, self.uploads.files / self.name)
        log.info("stored %s (%d bytes)", self.name, self.size)
        self.write({"name": self.name, "size": self.size, "sha256": self.sha256.hexdigest()})

    def on_finish(self) -> None:
        # Refused (400), interrupted or failed: the partial file goes.
        if self.temp is not None:
            self.temp.close()
            os.unlink(self.temp.name)
            self.temp = None


class DownloadHandler(ErrorPages, StaticFileHandler):
    """The uploaded files, served as downloads: a stranger's ``.html`` must not run as
    a page of this site (it could read this site's cookies)."""

    def set_extra_headers(self, path: str) -> None:
        self.set_header("Content-Disposition", "attachment")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "sandbox")


def make_app(
    directory: str | os.PathLike[str] = "uploads",
    *,
    prefix: str = "",
    max_size: int = 64 * MiB,
    **settings: Any,
) -> Application:
    """The upload application storing into ``directory``; ``max_size`` bytes per file.

    ``prefix`` (``"/upload"``) mounts every route under that path. Error pages (an
    unknown path's 404 included) are in the page's layout.
    """
    uploads = Uploads(directory)
    sized = {"uploads": uploads, "max_size": max_size}
    settings.setdefault("default_handler_class", NotFoundHandler)  # 404s in the layout
    return Application(
        [
            url(prefix + r"/", IndexHandler, sized, name="upload"),
            (prefix + r"/files", ListHandler, {"uploads": uploads}),
            (prefix + r"/files/(.+)", DownloadHandler, {"path": str(uploads.files)}),
            (prefix + r"/upload/([^/]+)", UploadHandler, sized),
        ],
        template_path=str(HERE / "templates"),
        xsrf_cookies=True,
        **settings,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8888)
    parser.add_argument("--dir", default="uploads")
    parser.add_argument("--max-mib", type=int, default=64)
    args = parser.parse_args()
    enable_pretty_logging()

    app = make_app(args.dir, max_size=args.max_mib * MiB)
    log.info("uploads on http://127.0.0.1:%d/ (into %s)", args.port, args.dir)
    tornadish.run(app, port=args.port, address="127.0.0.1")  # until Ctrl-C or SIGTERM


if __name__ == "__main__":
    main()
