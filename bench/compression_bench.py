"""``python -m bench.compression_bench``: bytes and CPU per response for each content
coding ``compress_response=True`` can choose (br, zstd, gzip), at the default levels.

Each response body goes through tornadish's own output transform
(:class:`tornadish.web.ContentEncoding`, as a handler's ``finish()`` drives it) for a
request accepting just that coding, ``--repeat`` times; CPU is process time per
response (the transform, the encoder and its setup), bytes the body that goes on the
wire. Three bodies: an HTML page, a JSON API answer and a small JSON answer, the sizes
real applications send. Identity is the baseline row. Codings whose package is not
installed (the ``brotli`` and ``zstd`` extras) are reported as skipped.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from bench._report import fmt_table
from tornadish._http import codings
from tornadish.httputil import HTTPHeaders, HTTPServerRequest
from tornadish.web import ContentEncoding


def _bodies() -> dict[str, tuple[str, bytes]]:
    rows = "".join(
        f'<tr><td class="name">Item {i}</td><td>{i * 37 % 1000}</td>'
        f'<td><a href="/items/{i}">details</a></td></tr>\n'
        for i in range(400)
    )
    html = (
        "<!doctype html><html><head><title>Items</title>"
        '<meta name="viewport" content="width=device-width"></head><body>'
        f"<h1>Items</h1><table>{rows}</table></body></html>"
    ).encode()
    api = json.dumps(
        {
            "items": [
                {"id": i, "name": f"user{i}", "email": f"user{i}@example.com", "active": i % 3 == 0}
                for i in range(300)
            ]
        }
    ).encode()
    # Just over ContentEncoding.MIN_LENGTH (1 KiB): the smallest body that is compressed.
    small = json.dumps(
        {"id": 42, "name": "user42", "tags": [f"tag{i}" for i in range(120)]}
    ).encode()
    return {
        "html page": ("text/html; charset=UTF-8", html),
        "json api": ("application/json", api),
        "small json": ("application/json", small),
    }


def _measure(coding: str | None, ctype: str, body: bytes, repeat: int) -> tuple[int, float]:
    request = HTTPServerRequest(
        method="GET", uri="/", headers=HTTPHeaders({"Accept-Encoding": coding or "identity"})
    )
    size = 0
    start = time.process_time()
    for _ in range(repeat):
        transform = ContentEncoding(request)
        headers = HTTPHeaders({"Content-Type": ctype, "Content-Length": str(len(body))})
        _, headers, out = transform.transform_first_chunk(200, headers, body, True)
        size = len(out)
        if coding is not None and headers.get("Content-Encoding") != coding:
            raise SystemExit(f"{coding} was not applied to a {len(body)}-byte {ctype} body")
    return size, (time.process_time() - start) / repeat * 1e6


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="responses per measurement")
    args = parser.parse_args(argv)
    rows: list[list[str]] = []
    for name, (ctype, body) in _bodies().items():
        for coding in (None, "br", "zstd", "gzip"):
            label = coding or "identity"
            if coding is not None and coding not in codings.AVAILABLE:
                rows.append([name, label, "skipped (not installed)", "", ""])
                continue
            size, cpu_us = _measure(coding, ctype, body, args.repeat)
            rows.append([name, label, f"{size:,}", f"{size / len(body):.1%}", f"{cpu_us:,.0f}"])
    print("compress_response=True: bytes and CPU per response, default levels")
    print(f"(gzip {codings.GZIP_LEVEL}, br {codings.BROTLI_QUALITY}, zstd {codings.ZSTD_LEVEL})")
    print(fmt_table(["body", "coding", "bytes", "of identity", "CPU µs"], rows, {2, 3, 4}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
