"""The demo's pages on a phone and on a desktop, in headless Chromium: every page (the
index, the blog with its 400 and 404 pages, the chat, the uploads and the live feed with
their 404 pages, the demo's own 404) has a viewport meta tag, and no element's box runs
past the screen's edge — with the longest words the pages may have to hold: German,
signed in, a chat message of 300 unbroken letters, a file name of 150. So does the debug
page of ``debug=True``, every fold open. A screenshot of each page at each size goes to
``build/screenshots/`` for a person to look at.

Chromium is driven as in test_examples_browser.py (installed with apt-get when the
tests run as root, else the test is skipped).
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from examples.blog.store import Store
from examples.demo import make_app
from tornadish.web import Application, RequestHandler

from tests.examples.test_example_live import PASSWORD, say
from tests.examples.test_examples_browser import DevTools, Page, chromium
from tests.support.seed_services import _ensure_binary

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "build" / "screenshots"
VIEWPORTS = [("phone", 390, 844, True), ("desktop", 1280, 800, False)]
LONG_MESSAGE = "a" * 300
LONG_FILE_NAME = "b" * 146 + ".txt"

# Boxes past the viewport's left or right edge (rounding aside), the document's width,
# and whether the page has a viewport meta tag. Elements with no box (hidden, <option>,
# <script>) are skipped.
LAYOUT = """(() => {
  const width = document.documentElement.clientWidth;
  const outside = [];
  for (const el of document.querySelectorAll("body *")) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.left < -1 || r.right > width + 1) {
      outside.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className}: ` +
                   `${Math.round(r.left)}..${Math.round(r.right)}`);
    }
  }
  const meta = document.querySelector('meta[name="viewport"]');
  return {width, scrollWidth: document.documentElement.scrollWidth, outside,
          viewport: meta ? meta.content : null, title: document.title};
})()"""


@pytest.fixture(scope="module")
def chromium_binary() -> str:
    return _ensure_binary(["chromium", "chromium-browser"], "chromium")


async def sign_up(base_url: str) -> dict[str, str]:
    """Sign up as the first author and publish a post; the session's cookies."""
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        await http.get("/blog/")
        xsrf = http.cookies["_xsrf"]
        r = await http.post(
            "/blog/auth/signup", data={"_xsrf": xsrf, "name": "ann", "password": PASSWORD}
        )
        assert r.status_code == 303, r.text
        body = "A post with a long word: " + "c" * 200
        r = await http.post(
            "/blog/compose", data={"_xsrf": xsrf, "title": "Layout check", "body": body}
        )
        assert r.status_code == 303, r.text
        return dict(http.cookies)


async def open_sized(devtools: DevTools, width: int, height: int, mobile: bool) -> Page:
    target = await devtools.call("Target.createTarget", url="about:blank")
    attached = await devtools.call(
        "Target.attachToTarget", targetId=target["targetId"], flatten=True
    )
    page = Page(devtools, attached["sessionId"])
    await page.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=mobile,
    )
    return page


async def goto(page: Page, url: str, ready: str = "true") -> None:
    await page.call("Page.navigate", url=url)
    await page.wait_for(
        f"location.href === {json.dumps(url)} && document.readyState === 'complete' && ({ready})",
        f"{url} to load",
    )


async def check(
    page: Page, name: str, size: str, width: int, height: int, scrolls: bool = False
) -> dict[str, Any]:
    """The layout assertions, and a screenshot of the page as it is now. A page taller
    than the screen (``scrolls``) has a scroll bar on a desktop, which the width leaves."""
    layout = await page.evaluate(LAYOUT)
    assert layout["viewport"] == "width=device-width, initial-scale=1", (name, layout)
    # Laid out for the device, not 980 px.
    assert width - (20 if scrolls else 0) <= layout["width"] <= width, (name, layout)
    assert layout["scrollWidth"] <= layout["width"], (name, size, layout)
    assert layout["outside"] == [], (name, size, layout["outside"])
    shot = await page.call("Page.captureScreenshot", format="png")
    png = base64.b64decode(shot["data"])
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == width
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / f"demo-{size}-{width}x{height}-{name}.png").write_bytes(png)
    return layout  # type: ignore[no-any-return]


@pytest.mark.timeout(900)  # pytest-timeout covers the fixture, which may install Chromium
@pytest.mark.timeout_async(240)
async def test_every_demo_page_fits_a_phone_and_a_desktop(
    serve: Any, tmp_path: Path, store: Store, chromium_binary: str
) -> None:
    srv = await serve(make_app(tmp_path, store=store))
    base = srv.base_url
    cookies = await sign_up(base)
    await say(srv.port, LONG_MESSAGE)  # in the chat's history and the live feed's
    (tmp_path / LONG_FILE_NAME).write_bytes(b"x" * 1000)

    async with chromium(chromium_binary, tmp_path / "profile") as devtools:
        for size, width, height, mobile in VIEWPORTS:
            page = await open_sized(devtools, width, height, mobile)
            # Signed in, in German: the blog's longest navigation bar.
            for name, value in {**cookies, "lang": "de"}.items():
                await page.call("Network.setCookie", name=name, value=value, url=base + "/")

            await goto(page, base + "/")
            await check(page, "index", size, width, height)

            await goto(page, base + "/blog/")
            await check(page, "blog", size, width, height)
            assert await page.evaluate("document.body.innerText.includes('Angemeldet als ann')")
            # The language picker is one line: its box no taller than its <select>.
            picker = await page.evaluate(
                "(() => { const form = document.querySelector('form.language');"
                " const f = form.getBoundingClientRect();"
                " const s = form.querySelector('select').getBoundingClientRect();"
                " return [f.height, s.height, f.top <= s.top, s.bottom <= f.bottom + 1]; })()"
            )
            assert picker[0] <= picker[1] * 1.5 and picker[2] and picker[3], picker
            # Without JavaScript the picker keeps its button, on the select's line.
            await page.call("Emulation.setScriptExecutionDisabled", value=True)
            await goto(page, base + "/blog/archive")
            await check(page, "blog-archive-nojs", size, width, height)
            select, button = await page.evaluate(
                "[...document.querySelectorAll('form.language select, form.language button')]"
                ".map(e => { const r = e.getBoundingClientRect(); return [r.top, r.bottom]; })"
            )
            assert button[0] < select[1] and select[0] < button[1], (select, button)
            await page.call("Emulation.setScriptExecutionDisabled", value=False)

            await goto(page, base + "/blog/entry/layout-check")
            await check(page, "blog-entry", size, width, height)

            for path, name in (("/blog/no/such/page", "blog-404"), ("/blog/entry/nope", "")):
                await goto(page, base + path)
                layout = await check(page, name or "blog-404-entry", size, width, height)
                assert layout["title"].startswith("404: Not Found · tornadish-Blog"), layout
                assert await page.evaluate("!!document.querySelector('header nav form.language')")

            # A 400: the language form sent with a language the blog does not speak.
            await goto(page, base + "/blog/")
            await page.evaluate(
                """(() => { const f = document.querySelector('form.language');
                f.querySelector('select').innerHTML = '<option value="xx">xx</option>';
                f.submit(); })()"""
            )
            await page.wait_for("document.title.startsWith('400')", "the 400 page")
            await page.wait_for("document.readyState === 'complete'", "the 400 page to load")
            layout = await check(page, "blog-400", size, width, height)
            assert layout["title"] == "400: unknown language · tornadish-Blog", layout
            assert await page.evaluate("!!document.querySelector('header nav form.language')")

            await goto(page, base + "/chat/", "document.body.dataset.transport === 'ws'")
            await page.wait_for(
                f"document.getElementById('log').innerText.includes('{LONG_MESSAGE}')",
                "the long message",
            )
            await check(page, "chat", size, width, height)
            # The message wraps inside its box: no horizontal scrolling in the log.
            inside = await page.evaluate(
                "(() => { const log = document.getElementById('log');"
                " const r = log.getBoundingClientRect();"
                " return [...log.querySelectorAll('p')].every(p => {"
                "   const b = p.getBoundingClientRect();"
                "   return b.left >= r.left && b.right <= r.right; })"
                " && log.scrollWidth <= log.clientWidth; })()"
            )
            assert inside

            await goto(page, base + "/upload/")
            await page.call("DOM.enable")
            root = await page.call("DOM.getDocument")
            node = await page.call(
                "DOM.querySelector", nodeId=root["root"]["nodeId"], selector="#pick"
            )
            await page.call(
                "DOM.setFileInputFiles",
                nodeId=node["nodeId"],
                files=[str(tmp_path / LONG_FILE_NAME)],
            )
            await page.wait_for(
                "[...document.querySelectorAll('.job .state')].some("
                "s => s.textContent.startsWith('stored'))"
                f" && !!document.querySelector('#files a[href$=\"{LONG_FILE_NAME}\"]')",
                "the upload and the listing",
            )
            await check(page, "upload", size, width, height)

            await goto(page, base + "/live/", "document.body.dataset.opens === '1'")
            await page.wait_for(
                f"document.getElementById('feed').innerText.includes('{LONG_MESSAGE}')",
                "the long message in the feed",
            )
            await check(page, "live", size, width, height)

            # The examples' own 404s keep their layouts: title, heading, style.
            for app, name in (("chat", "chat"), ("upload", "uploads"), ("live", "live")):
                for path in (f"/{app}/no/such/page", f"/{app}/files/gone-{LONG_FILE_NAME}"):
                    if app != "upload" and "/files/" in path:
                        continue
                    await goto(page, base + path)
                    shot = f"{app}-404" if "/files/" not in path else "upload-404-file"
                    layout = await check(page, shot, size, width, height)
                    assert layout["title"] == f"404: Not Found · tornadish {name}", layout
                    home = await page.evaluate("document.querySelector('h1 a').pathname")
                    assert home == f"/{app}/", (path, home)

            await goto(page, base + "/no-such-page")
            layout = await check(page, "404", size, width, height)
            assert layout["title"] == "404: Not Found", layout


class Crash(RequestHandler):
    def get(self, _: str) -> None:
        orders: dict[str, int] = {}
        # A long line, a long message and a long URL: what the page must fold or wrap.
        value = orders["order-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"]  # noqa: E501  # fmt: skip
        raise AssertionError(value)


@pytest.mark.timeout(900)  # pytest-timeout covers the fixture, which may install Chromium
@pytest.mark.timeout_async(120)
async def test_the_debug_page_fits_a_phone_and_a_desktop(
    serve: Any, tmp_path: Path, chromium_binary: str
) -> None:
    srv = await serve(Application([(r"/crash/(.*)", Crash)], debug=True, autoreload=False))
    url = f"{srv.base_url}/crash/{'y' * 200}?q={'z' * 100}"
    async with chromium(chromium_binary, tmp_path / "profile") as devtools:
        for size, width, height, mobile in VIEWPORTS:
            page = await open_sized(devtools, width, height, mobile)
            await goto(page, url)
            layout = await check(page, "debug", size, width, height, scrolls=True)
            assert layout["title"] == "500: Internal Server Error · KeyError", layout
            # The user's frame is open at the line; tornadish's frames are folded.
            here = await page.evaluate("document.querySelector('pre .here').textContent")
            assert 'value = orders["order-xxx' in here
            folded = await page.evaluate(
                "[...document.querySelectorAll('details.quiet')].every(d => !d.open)"
            )
            assert folded
            # Every fold open (frames, local variables, headers): still within the screen.
            await page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            await check(page, "debug-open", size, width, height, scrolls=True)
