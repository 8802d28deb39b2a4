"""Seed 001, "AsyncHTTPclient": fetch a weather service and report the temperature.

Verbatim but for ``tornado`` → ``tornadish``, with one typo fixed: the page's
``json.loads(response_body)`` (a NameError) reads ``response.body``. The weather service
(``settings["weather_uri"]``) is a local fake in the test, shaped like the old Yahoo
weather API the page queried.
"""

import json

import tornadish.httpclient
import tornadish.web


class MyClassHandler(tornadish.web.RequestHandler):

    async def get(self):
        client = tornadish.httpclient.AsyncHTTPClient()
        response = await client.fetch(self.settings["weather_uri"])

        body = json.loads(response.body)  # seed typo: response_body
        item = body["query"]["results"]["channel"]["item"]
        condition = item["condition"]
        temp = condition["temp"]
        text = condition["text"]

        self.finish(f"Currently {temp} degrees and {text} in Berlin, DE")


def make_app(weather_uri):  # harness
    return tornadish.web.Application([(r"/", MyClassHandler)], weather_uri=weather_uri)  # harness
