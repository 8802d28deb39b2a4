"""Prometheus metrics (the ``metrics`` setting, ``MetricsHandler``) over real sockets:
``/metrics`` is valid Prometheus text, parsed by prometheus_client's own parser, and
its numbers are the requests, bytes, connections and WebSockets the test made. (Two
worker processes summed: tests/runner/test_metrics_workers.py.)"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from typing import Any

import httpx
import pytest

from tornadish.httpserver import HTTPServer
from tornadish.metrics import MetricsHandler
from tornadish.web import Application, RequestHandler, url
from tornadish.websocket import WebSocketHandler, websocket_connect

prometheus_client = pytest.importorskip(
    "prometheus_client", reason="needs prometheus_client: pip install 'tornadish[prometheus]'"
)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Hello(RequestHandler):
    def get(self, name: str) -> None:
        self.write("hello " + name)


class Items(RequestHandler):
    def post(self) -> None:
        self.write(b"got " + self.request.body)


class Gate(RequestHandler):
    """Holds the request until the test opens the gate."""

    async def get(self) -> None:
        self.settings["entered"].set()
        await self.settings["gate"].wait()
        self.write("through")


class Echo(WebSocketHandler):
    def on_message(self, message: str | bytes) -> None:
        self.write_message(message)


def _app(registry: Any, **settings: Any) -> Application:
    return Application(
        [
            url(r"/hello/(\w+)", Hello, name="hello"),
            (r"/items", Items),
            (r"/gate", Gate),
            (r"/ws", Echo),
            (r"/metrics", MetricsHandler),
        ],
        metrics=registry,
        entered=asyncio.Event(),
        gate=asyncio.Event(),
        **settings,
    )


def parse(text: str) -> Samples:
    """Every sample of ``text``, by name and labels (fails on text that is not valid)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(srv: Any, **headers: str) -> Samples:
    async with httpx.AsyncClient() as client:
        r = await client.get(srv.base_url + "/metrics", headers=headers)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return parse(r.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def requests_total(samples: Samples) -> dict[tuple[str, str, str], float]:
    return {
        (dict(k)["route"], dict(k)["method"], dict(k)["status"]): v
        for (name, k), v in samples.items()
        if name == "tornadish_http_requests_total"
    }


async def eventually(srv: Any, name: str, expected: float) -> Samples:
    """Scrape until ``name`` (no labels) reads ``expected`` (a close is seen late)."""
    for _ in range(200):
        samples = await scrape(srv)
        if value(samples, name) == expected:
            return samples
        await asyncio.sleep(0.01)
    raise AssertionError(f"{name} = {value(samples, name)}, expected {expected}")


async def test_counters_match_the_requests_made(serve: Any) -> None:
    srv = await serve(_app(prometheus_client.CollectorRegistry()))
    sent = 0
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        for name in ("ann", "bob", "cy"):
            sent += len((await client.get(f"/hello/{name}")).content)
        for body in (b"12345", b"1234567"):
            sent += len((await client.post("/items", content=body)).content)
        sent += len((await client.get("/nowhere")).content)
        sent += len((await client.request("BREW", "/items")).content)
    samples = await scrape(srv)
    assert requests_total(samples) == {
        ("hello", "GET", "200"): 3,  # a named route: its name
        ("/items", "POST", "200"): 2,  # else its pattern
        ("(unmatched)", "GET", "404"): 1,
        ("/items", "_OTHER", "405"): 1,  # a made-up method is no label of its own
    }
    assert (
        value(samples, "tornadish_http_request_duration_seconds_count", route="hello", method="GET")
        == 3
    )
    buckets = sorted(
        (float(dict(k)["le"]), v)
        for (n, k), v in samples.items()
        if n == "tornadish_http_request_duration_seconds_bucket" and dict(k)["route"] == "hello"
    )
    assert buckets[-1] == (float("inf"), 3)
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert (
        value(samples, "tornadish_http_request_duration_seconds_sum", route="hello", method="GET")
        > 0
    )
    received = value(
        samples, "tornadish_http_request_body_bytes_total", route="/items", method="POST"
    )
    assert received == 12
    out = sum(v for (n, _), v in samples.items() if n == "tornadish_http_response_body_bytes_total")
    assert out == sent
    # The scrape itself is counted once it is answered: the next one shows it.
    again = requests_total(await scrape(srv))
    assert again[("/metrics", "GET", "200")] == 1


async def test_in_flight_counts_requests_being_handled(serve: Any) -> None:
    app = _app(prometheus_client.CollectorRegistry())
    srv = await serve(app)
    # The scrape is itself in flight while it is answered.
    assert value(await scrape(srv), "tornadish_http_requests_in_flight") == 1
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        held = asyncio.ensure_future(client.get("/gate"))
        await asyncio.wait_for(app.settings["entered"].wait(), 5)
        assert value(await scrape(srv), "tornadish_http_requests_in_flight") == 2
        app.settings["gate"].set()
        assert (await held).text == "through"
    assert value(await scrape(srv), "tornadish_http_requests_in_flight") == 1


async def test_open_connections_and_websockets(serve: Any) -> None:
    srv = await serve(_app(prometheus_client.CollectorRegistry()))
    idle = [await asyncio.open_connection("127.0.0.1", srv.port) for _ in range(3)]
    # The three idle ones and the scrape's own.
    await eventually(srv, "tornadish_http_connections_open", 4)
    for _, writer in idle:
        writer.close()
    await eventually(srv, "tornadish_http_connections_open", 1)
    ws = await websocket_connect(f"ws://127.0.0.1:{srv.port}/ws")
    ws.write_message("ping")
    assert await ws.read_message() == "ping"
    samples = await eventually(srv, "tornadish_websocket_connections_open", 1)
    # An upgraded connection is still an open connection; the handshake a request.
    assert value(samples, "tornadish_http_connections_open") == 2
    assert requests_total(samples)[("/ws", "GET", "101")] == 1
    assert value(samples, "tornadish_http_requests_in_flight") == 1  # the scrape only
    ws.close()
    samples = await eventually(srv, "tornadish_websocket_connections_open", 0)
    await eventually(srv, "tornadish_http_connections_open", 1)


async def test_openmetrics_and_a_subset_on_request(serve: Any) -> None:
    srv = await serve(_app(prometheus_client.CollectorRegistry()))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        await client.get("/hello/x")
        r = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
        assert r.headers["Content-Type"].startswith("application/openmetrics-text")
        assert r.text.endswith("# EOF\n")
        r = await client.get("/metrics?name[]=tornadish_http_requests_total")
    names = {name for name, _ in parse(r.text)}
    assert names == {"tornadish_http_requests_total"}


async def test_default_registry_serves_the_applications_own_metrics_too(serve: Any) -> None:
    mine = prometheus_client.Counter("test_metrics_own_total", "An application's own.")
    mine.inc(7)
    srv = await serve(_app(True))
    async with httpx.AsyncClient(base_url=srv.base_url) as client:
        await client.get("/hello/x")
        samples = parse((await client.get("/metrics")).text)
    assert value(samples, "test_metrics_own_total") == 7
    assert requests_total(samples)[("hello", "GET", "200")] >= 1


def test_metrics_off_costs_nothing() -> None:
    # No observer, a plain connection set: the request path has nothing to do.
    app = Application([(r"/", Hello)])
    assert app._observer is None and app.connection_watch is None
    assert app.transforms == []
    server = HTTPServer(app)
    assert type(server._connections).__name__ == "_ConnectionSet"
    # And a server with metrics off never imports prometheus_client, even with
    # MetricsHandler mounted; one with metrics on waits for its first request.
    code = textwrap.dedent(
        """
        import asyncio, sys
        import tornadish.metrics
        from tornadish.web import Application, RequestHandler
        from tornadish.httpclient import AsyncHTTPClient

        class Hi(RequestHandler):
            def get(self):
                self.write("hi")

        async def main(metrics):
            app = Application([(r"/", Hi)], metrics=metrics)
            print("made", "prometheus_client" in sys.modules)
            server = app.listen(0, "127.0.0.1")
            port = server.port
            await AsyncHTTPClient().fetch(f"http://127.0.0.1:{port}/")
            print("served", "prometheus_client" in sys.modules)
            server.stop()

        asyncio.run(main(sys.argv[1] == "on"))
        """
    )
    for switch, imported in (("off", "False"), ("on", "True")):
        out = subprocess.run(
            [sys.executable, "-c", code, switch], capture_output=True, text=True, timeout=60
        )
        assert out.stdout.split() == ["made", "False", "served", imported], out.stderr


def test_a_bad_setting_fails_at_start_up() -> None:
    with pytest.raises(TypeError, match="metrics setting"):
        Application([], metrics="yes")
