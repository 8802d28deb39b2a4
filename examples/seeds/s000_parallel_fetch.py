"""Seed 000, "COROUTINE PATTERNS", "Parallelism": ``gen.multi`` over a list and a dict.

Verbatim but for ``tornado`` → ``tornadish`` (the slide's stray ``|`` column is an
artefact of the PDF's layout, dropped). ``http_client`` is a global the slide never
defines: the harness sets it to an ``AsyncHTTPClient`` before calling.
"""

from tornadish.gen import multi

http_client = None  # harness: an AsyncHTTPClient, set by the caller

async def parallel_fetch(url1, url2):
    resp1, resp2 = await multi([http_client.fetch(url1),
                                http_client.fetch(url2)])

async def parallel_fetch_many(urls):
    responses = await multi ([http_client.fetch(url) for url in urls])
    # responses is a list of HTTPResponses in the same order

async def parallel_fetch_dict(urls):
    responses = await multi({url: http_client.fetch(url)
                             for url in urls})
    # responses is a dict {url: HTTPResponse}
