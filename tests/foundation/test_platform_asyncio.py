"""tornadish.platform.asyncio: Tornado's asyncio compatibility names. Each test runs in a
fresh thread, which starts with no event loop of its own."""

from __future__ import annotations

import asyncio
import importlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tornadish import gen
from tornadish.ioloop import IOLoop
from tornadish.platform.asyncio import (
    AsyncIOLoop,
    AsyncIOMainLoop,
    BaseAsyncIOLoop,
    to_asyncio_future,
    to_tornado_future,
)


def in_fresh_thread(func: Callable[[], Any]) -> Any:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = func()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join(20)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]


def test_main_loop_install_then_current_run_sync_and_start() -> None:
    def body() -> tuple[Any, ...]:
        main = AsyncIOMainLoop()
        main.install()
        main.install()  # harmless twice
        current = IOLoop.current()

        async def work() -> str:
            await gen.sleep(0.01)
            return "done"

        result = current.run_sync(work)
        ticks: list[int] = []
        current.add_callback(ticks.append, 1)
        current.call_later(0.01, current.stop)
        current.start()
        loop = main.asyncio_loop
        main.close()
        after = IOLoop.current()
        after.close()
        return current is main, result, ticks, loop.is_closed(), after is not main

    assert in_fresh_thread(body) == (True, "done", [1], True, True)


def test_main_loop_wraps_the_running_loop() -> None:
    async def main() -> tuple[bool, bool, bool]:
        wrapper = AsyncIOMainLoop()
        wrapper.install()
        return (
            wrapper.asyncio_loop is asyncio.get_running_loop(),
            IOLoop.current() is wrapper,
            isinstance(wrapper, BaseAsyncIOLoop),
        )

    assert in_fresh_thread(lambda: asyncio.run(main())) == (True, True, True)


def test_main_loop_wraps_the_threads_current_loop() -> None:
    def body() -> bool:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return AsyncIOMainLoop().asyncio_loop is loop
        finally:
            loop.close()
            asyncio.set_event_loop(None)

    assert in_fresh_thread(body) is True


def test_main_loop_after_current_refuses_a_second_wrapper() -> None:
    def body() -> None:
        current = IOLoop.current()
        try:
            with pytest.raises(RuntimeError):
                AsyncIOMainLoop()
        finally:
            current.close()

    in_fresh_thread(body)


def test_main_loop_uses_uvloop_unless_switched_off() -> None:
    pytest.importorskip("uvloop")
    code = (
        "from tornadish.platform.asyncio import AsyncIOMainLoop\n"
        "print(type(AsyncIOMainLoop().asyncio_loop).__module__.split('.')[0])\n"
    )
    for flag, expected in (("", "uvloop"), ("1", "asyncio")):
        env = dict(os.environ, TORNADISH_NO_UVLOOP=flag)
        out = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=30
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == expected


def test_asyncio_loop_is_a_new_current_loop_until_closed() -> None:
    def body() -> tuple[bool, ...]:
        outer = IOLoop.current()
        inner = AsyncIOLoop()
        inner.install()
        made_current = IOLoop.current() is inner
        distinct = inner.asyncio_loop is not outer.asyncio_loop
        inner.close()
        restored = IOLoop.current() is outer
        detached = AsyncIOLoop(make_current=False)
        stays = IOLoop.current() is outer
        detached.close()
        outer.close()
        return made_current, distinct, restored, stays

    assert in_fresh_thread(body) == (True, True, True, True)


def test_ioloop_builds_the_classes_tornado_does() -> None:
    def body() -> tuple[Any, ...]:
        current = IOLoop.current()  # wraps the thread's loop
        built = IOLoop(make_current=False)
        kinds = (type(current), type(built), isinstance(built, BaseAsyncIOLoop))
        built.close()
        current.close()
        return kinds

    assert in_fresh_thread(body) == (AsyncIOMainLoop, AsyncIOLoop, True)


def test_configure_picks_the_class_ioloop_builds() -> None:
    class Custom(AsyncIOLoop):
        pass

    def body() -> list[type]:
        made = []
        try:
            IOLoop.configure(Custom, make_current=False)
            assert IOLoop.configured_class() is Custom
            loop = IOLoop()
            made.append(type(loop))
            assert IOLoop.current(instance=False) is None  # make_current=False applied
            loop.close()
            IOLoop.configure("tornadish.platform.asyncio.AsyncIOLoop")
            loop = IOLoop(make_current=False)
            made.append(type(loop))
            loop.close()
        finally:
            IOLoop.configure(None)
        return made

    assert in_fresh_thread(body) == [Custom, AsyncIOLoop]
    assert IOLoop.configured_class() is AsyncIOLoop
    with pytest.raises(ValueError):
        IOLoop.configure(dict)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        IOLoop.configure(AsyncIOLoop, time_func=None)


def test_future_conversions() -> None:
    async def main() -> tuple[Any, ...]:
        fut = asyncio.get_running_loop().create_future()
        same = to_tornado_future(fut) is fut
        fut.set_result(1)

        async def two() -> int:
            return 2

        converted = to_asyncio_future(two())
        many = to_asyncio_future([fut, to_asyncio_future(two())])
        return same, isinstance(converted, asyncio.Future), await converted, await many

    assert in_fresh_thread(lambda: asyncio.run(main())) == (True, True, 2, [1, 2])


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_any_thread_policy_creates_loops_in_other_threads() -> None:
    module = importlib.import_module("tornadish.platform.asyncio")
    policy_class = module.AnyThreadEventLoopPolicy
    assert module.AnyThreadEventLoopPolicy is policy_class  # built once
    with pytest.warns(DeprecationWarning):
        policy = policy_class()
    previous = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(policy)
    try:

        def body() -> bool:
            loop = asyncio.get_event_loop()  # would raise in a non-main thread by default
            try:
                return asyncio.get_event_loop() is loop and not loop.is_closed()
            finally:
                loop.close()

        assert in_fresh_thread(body) is True
    finally:
        asyncio.set_event_loop_policy(previous)
    with pytest.raises(AttributeError):
        module.NoSuchName  # noqa: B018
