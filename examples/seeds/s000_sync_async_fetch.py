"""Seed 000, "SYNC & ASYNC WITH TORNADO": a synchronous and an asynchronous fetch.

Verbatim but for ``tornado`` → ``tornadish``.
"""

from tornadish.httpclient import HTTPClient

def synchronous_fetch(url):
    http_client = HTTPClient()
    response = http_client.fetch(url)
    return response.body

from tornadish.httpclient import AsyncHTTPClient

async def asynchronous_fetch(url):
    http_client = AsyncHTTPClient()
    response = await http_client.fetch(url)
    return response.body
