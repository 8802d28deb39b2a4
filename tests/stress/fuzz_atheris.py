"""Coverage-guided fuzzing of the request-parsing path with atheris (libFuzzer).

Runs :func:`tests.stress._fuzz_targets.parse_requests` — h11 through
``ServerSession``, the header model, ``HTTPServerRequest``, query strings, cookies,
routing, urlencoded and multipart bodies (spooled to a temporary directory) — under
coverage instrumentation of ``tornadish``, ``h11`` and ``python_multipart``, for a
fixed number of inputs. Any exception other than the intended HTTP error (which
``parse_requests`` turns into a result) is a crash: libFuzzer prints the traceback,
writes the input next to ``--artifacts`` and the exit status is non-zero.

Usage (from the repository root)::

    python -m tests.stress.fuzz_atheris --runs 20000 [--artifacts DIR] [--seed N]

``make stress`` runs it through ``tests/stress/test_fuzz_atheris.py``.

Input format: the first byte chooses how the rest is split into reads (bit 0 set: one
read; otherwise reads of ``(byte >> 1) + 1`` bytes), the rest is what the client sent.
The seed corpus below is in that format.

Fallback: atheris ships wheels for CPython on Linux and macOS only (and builds from
source need clang with libFuzzer). Where ``import atheris`` fails, the script says why
and runs the same target for the same number of inputs with a plain random mutator
over the seed corpus (byte flips, insertions of HTTP-significant bytes, truncations,
splices) — no coverage guidance, but the same contract is checked.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable

SEEDS = [
    b'GET /?a=1&b=%C3%A9 HTTP/1.1\r\nHost: a\r\nCookie: s=x; b="q y"\r\n\r\n',
    b"GET /user/42 HTTP/1.1\r\nHost: a\r\n\r\nHEAD /files/a%2Fb HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: application/x-www-form-urlencoded\r\n"
    b"Content-Length: 11\r\n\r\na=1&b=2&c=3",
    b"POST /f HTTP/1.1\r\nHost: a\r\nContent-Type: multipart/form-data; boundary=X\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    b'5e\r\n--X\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n'
    b"Content-Type: text/plain\r\n\r\nhello world\r\n--X--\r\n\r\n0\r\n\r\n",
    b"POST /j HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
    b'4;ext=1\r\n{"a"\r\n4\r\n: 1}\r\n0\r\nTrailer: x\r\n\r\n',
    b"PUT /s HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
]
CORPUS = [b"\x01" + s for s in SEEDS] + [b"\x00" + s for s in SEEDS[:3]]


def make_target(parse_requests: Callable[..., object], tmp_dir: str) -> Callable[[bytes], None]:
    def target(data: bytes) -> None:
        if not data:
            return
        flags, rest = data[0], data[1:]
        if flags & 1:
            pieces = [rest]
        else:
            size = (flags >> 1) + 1
            pieces = [rest[i : i + size] for i in range(0, len(rest), size)]
        parse_requests(pieces, tmp_dir=tmp_dir, spool_threshold=16)
        leftovers = os.listdir(tmp_dir)
        assert not leftovers, f"temporary files left behind: {leftovers}"

    return target


_SPECIAL = [b"\r\n", b"\n", b"\r", b" ", b"\t", b"\x00", b":", b";", b",", b"0", b"-", b"%"]


def _mutate(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(5)
        i = rng.randrange(len(out) + 1)
        if op == 0 and out:
            out[min(i, len(out) - 1)] = rng.randrange(256)
        elif op == 1:
            out[i:i] = rng.choice(_SPECIAL)
        elif op == 2:
            del out[i : i + rng.randint(1, 16)]
        elif op == 3:
            out = out[:i]
        else:
            other = rng.choice(CORPUS)
            j = rng.randrange(len(other))
            out[i:] = other[j:]
    return bytes(out)


def run_fallback(target: Callable[[bytes], None], runs: int, seed: int) -> int:
    rng = random.Random(seed)
    started = time.perf_counter()
    for n in range(runs):
        data = _mutate(rng, rng.choice(CORPUS))
        try:
            target(data)
        except Exception:
            print(f"CRASH after {n} inputs on {data!r}", file=sys.stderr)
            raise
    elapsed = time.perf_counter() - started
    print(f"fallback fuzzer: {runs} inputs in {elapsed:.1f}s, no crash")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=20000, help="inputs to try")
    parser.add_argument("--seed", type=int, default=1, help="random seed")
    parser.add_argument("--artifacts", default=".", help="where crashing inputs go")
    parser.add_argument(
        "--fallback", action="store_true", help="use the plain random mutator even with atheris"
    )
    args = parser.parse_args(argv)
    tmp_dir = tempfile.mkdtemp(prefix="tornadish-fuzz-")
    try:
        atheris = None
        if not args.fallback:
            try:
                import atheris  # type: ignore[no-redef]
            except ImportError as e:
                print(f"atheris unavailable ({e}); using the random-mutation fallback")
        if atheris is None:
            from tests.stress._fuzz_targets import parse_requests

            return run_fallback(make_target(parse_requests, tmp_dir), args.runs, args.seed)

        with atheris.instrument_imports(include=["tornadish", "h11", "python_multipart"]):
            from tests.stress._fuzz_targets import parse_requests
        corpus = tempfile.mkdtemp(prefix="tornadish-corpus-")
        for i, seed in enumerate(CORPUS):
            with open(os.path.join(corpus, f"seed{i}"), "wb") as f:
                f.write(seed)
        artifacts = os.path.join(os.path.abspath(args.artifacts), "")
        atheris.Setup(
            [
                sys.argv[0],
                f"-runs={args.runs}",
                f"-seed={args.seed}",
                f"-artifact_prefix={artifacts}",
                "-max_len=4096",
                "-print_final_stats=1",
                corpus,
            ],
            make_target(parse_requests, tmp_dir),
        )
        atheris.Fuzz()  # exits the process when the runs are done (0) or on a crash
        return 0
    finally:
        shutil.rmtree(tmp_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
