"""Tornado's helper names that tornadish provides, checked against Tornado on the same inputs."""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import tornado.escape
import tornado.httputil
import tornado.util
import tornado.web

import tornadish.escape
import tornadish.httputil
import tornadish.log
import tornadish.util
import tornadish.web
from tornadish.httputil import ParseBodyConfig, ParseUrlEncodedConfig, set_parse_body_config
from tornadish.options import Error, OptionParser, define_logging_options
from tornadish.platform.asyncio import AddThreadSelectorEventLoop, SelectorThread


def _random_bytes(rng: random.Random, alphabet: bytes, size: int) -> bytes:
    return bytes(rng.choice(alphabet) for _ in range(rng.randint(0, size)))


def test_unquote_to_bytes_matches_tornado_and_stdlib() -> None:
    rng = random.Random(7)
    for _ in range(20_000):
        data = _random_bytes(rng, b"%=3dD25aZ\r\n+ ", 14)
        ours = tornadish.escape._unquote_to_bytes(data)
        assert ours == tornado.escape._unquote_to_bytes(data)
        assert ours == urllib.parse.unquote_to_bytes(data)


def test_parse_qs_bytes_matches_tornado() -> None:
    rng = random.Random(8)
    for _ in range(5_000):
        query = _random_bytes(rng, b"a=&%3+;2D ", 14).decode("latin-1")
        for blank in (False, True):
            for strict in (False, True):
                results: list[object] = []
                for parse in (tornadish.escape.parse_qs_bytes, tornado.escape.parse_qs_bytes):
                    try:
                        results.append(parse(query, blank, strict))
                    except ValueError:
                        results.append("ValueError")
                assert results[0] == results[1], (query, blank, strict)


def test_unicode_alias() -> None:
    assert tornadish.escape._unicode is tornadish.escape.to_unicode


def test_websocket_mask_matches_tornado() -> None:
    rng = random.Random(9)
    for size in [*range(10), 125, 126, 65536]:
        mask, data = rng.randbytes(4), rng.randbytes(size)
        ours = tornadish.util._websocket_mask_python(mask, data)
        assert ours == tornado.util._websocket_mask_python(mask, data)
        assert tornadish.util._websocket_mask(mask, ours) == data
    with pytest.raises(ValueError):
        tornadish.util._websocket_mask_python(b"abc", b"x")


def test_arg_replacer_matches_tornado() -> None:
    def func(a: Any, b: Any, callback: Any = None, *, kw: Any = None) -> None:
        pass

    cases: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((1, 2, 3), {}),
        ((1, 2), {}),
        ((1, 2), {"callback": 3}),
        ((1,), {"b": 2}),
    ]
    for name in ("callback", "kw", "missing"):
        ours = tornadish.util.ArgReplacer(func, name)
        theirs = tornado.util.ArgReplacer(func, name)
        assert ours.arg_pos == theirs.arg_pos
        for args, kwargs in cases:
            assert ours.get_old_value(args, dict(kwargs), "d") == theirs.get_old_value(
                args, dict(kwargs), "d"
            )
            assert ours.replace("new", args, dict(kwargs)) == theirs.replace(
                "new", args, dict(kwargs)
            )


def test_exec_in_does_not_inherit_future_imports() -> None:
    namespace: dict[str, Any] = {}
    # This module has ``from __future__ import annotations``; the code must not.
    tornadish.util.exec_in("def f(x: int): pass\nann = f.__annotations__", namespace)
    assert namespace["ann"] == {"x": int}
    local: dict[str, Any] = {}
    tornadish.util.exec_in(compile("y = 1", "<t>", "exec"), {}, local)
    assert local == {"y": 1}


def test_signature_helpers_match_tornado() -> None:
    v1_cases: list[tuple[str | bytes, tuple[str | bytes, ...]]] = [
        ("k", ("a", "b")),
        (b"k\xff", (b"x", "\u00e9")),
    ]
    for secret, parts in v1_cases:
        assert tornadish.web._create_signature_v1(
            secret, *parts
        ) == tornado.web._create_signature_v1(secret, *parts)
    v2_cases: list[tuple[str | bytes, bytes]] = [("k", b"x|y"), (b"k", b"2|1:0|10:12")]
    for secret2, s in v2_cases:
        assert tornadish.web._create_signature_v2(secret2, s) == tornado.web._create_signature_v2(
            secret2, s
        )
    keys = {0: "zero", 3: "three"}
    for version in (1, 2):
        value = tornado.web.create_signed_value(keys[3], "n", "v", version=version)
        assert tornadish.web.get_signature_key_version(value) == (
            tornado.web.get_signature_key_version(value)
        )
    value = tornado.web.create_signed_value(keys, "n", "v", key_version=3)
    assert tornadish.web.get_signature_key_version(value) == 3
    assert tornadish.web.get_signature_key_version(b"2|garbage") is None


def test_httputil_private_names() -> None:
    for name, pattern in vars(tornado.httputil._ABNF).items():
        if hasattr(pattern, "pattern"):
            assert getattr(tornadish.httputil._ABNF, name).pattern == pattern.pattern
    assert tornadish.httputil._parse_header('a; b="c"') == tornado.httputil._parse_header(
        'a; b="c"'
    )
    default = tornadish.httputil._DEFAULT_PARSE_BODY_CONFIG
    assert default.urlencoded.max_arguments == 1000
    custom = ParseBodyConfig(urlencoded=ParseUrlEncodedConfig(max_arguments=5))
    set_parse_body_config(custom)
    try:
        assert tornadish.httputil._DEFAULT_PARSE_BODY_CONFIG is custom
    finally:
        set_parse_body_config(default)


def test_log_define_logging_options_and_enable_from_options(tmp_path: Path) -> None:
    parser = OptionParser()
    tornadish.log.define_logging_options(parser)
    parser.log_file_prefix = str(tmp_path / "app.log")
    logger = logging.Logger("test_tornado_helpers.file")
    tornadish.log.enable_pretty_logging(options=parser, logger=logger)
    try:
        assert len(logger.handlers) == 1
        logger.error("hello")
        logger.handlers[0].flush()
        assert "] hello" in (tmp_path / "app.log").read_text()
    finally:
        for handler in logger.handlers:
            handler.close()
    parser.log_rotate_mode = "neither"
    with pytest.raises(ValueError, match="log_rotate_mode"):
        tornadish.log.enable_pretty_logging(options=parser, logger=logging.Logger("x"))
    # As in Tornado, the parse callback of log.define_logging_options raises ValueError;
    # tornadish.options.define_logging_options reports it as an option Error.
    with pytest.raises(ValueError, match="log_rotate_mode"):
        parser.run_parse_callbacks()
    other = OptionParser()
    define_logging_options(other)
    other.log_file_prefix = str(tmp_path / "other.log")
    other.log_rotate_mode = "neither"
    with pytest.raises(Error, match="log_rotate_mode"):
        other.run_parse_callbacks()


def test_enable_pretty_logging_with_level_still_works() -> None:
    logger = logging.Logger("test_tornado_helpers.level")
    tornadish.log.enable_pretty_logging(logging.DEBUG, logger)
    assert logger.level == logging.DEBUG
    assert [type(h.formatter) for h in logger.handlers] == [tornadish.log.LogFormatter]


def test_selector_thread_calls_back_on_the_loop_thread() -> None:
    loop = asyncio.new_event_loop()
    wrapped = AddThreadSelectorEventLoop(loop)  # type: ignore[abstract]  # a proxy
    a, b = socket.socketpair()
    try:

        async def main() -> bytes:
            got: asyncio.Future[bytes] = loop.create_future()
            wrapped.add_reader(a, lambda: got.set_result(a.recv(10)))
            b.send(b"ping")
            data = await asyncio.wait_for(got, 5)
            assert wrapped.remove_reader(a)
            assert not wrapped.remove_reader(a)
            return data

        assert loop.run_until_complete(main()) == b"ping"
        assert isinstance(wrapped._selector, SelectorThread)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        wrapped.close()
        a.close()
        b.close()
    assert loop.is_closed()
