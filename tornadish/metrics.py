"""Prometheus metrics: switch them on with the application's ``metrics`` setting, and
mount :class:`MetricsHandler` where Prometheus scrapes (``pip install
'tornadish[prometheus]'``, which brings ``prometheus_client``):

.. code-block:: python

    from tornadish.metrics import MetricsHandler
    from tornadish.web import Application

    app = Application([(r"/", MainHandler), (r"/metrics", MetricsHandler)], metrics=True)

``metrics=True`` registers the metrics in prometheus_client's default registry (beside
your own, and served with them); ``metrics=CollectorRegistry()`` in that registry.
What is measured — requests by route, method and status, a latency histogram, requests
in flight, open HTTP and WebSocket connections, body bytes in and out — and how
``tornadish.run(app, workers=N)`` sums the workers' counts (prometheus_client's
multiprocess mode) are told in the Observability guide. With the setting off, nothing
is measured and the request path does no work for it.

Importing this module does not import prometheus_client: that waits for the first
request, so that ``tornadish.run`` can still choose prometheus_client's multiprocess
mode before forking workers.
"""

from __future__ import annotations

from tornadish._web.metrics import MetricsHandler

__all__ = ["MetricsHandler"]
