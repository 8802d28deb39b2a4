"""Whom a request came from when a proxy stands in front (``HTTPServer(xheaders=True)``).

Rules of this module:

1. Pure: headers and addresses in, an address and a scheme out; no connection, no I/O.
2. Trust is the server's setting, not the request's: the headers are read only when
   ``xheaders`` is on, and a value that is not a valid IP address (or a scheme other
   than ``http``/``https``) falls back to what the socket says.

As Tornado: ``X-Real-Ip`` wins over ``X-Forwarded-For``; in ``X-Forwarded-For`` the
client is the last address that is not one of the ``trusted_downstream`` proxies
(each proxy appends the address it was reached from); ``X-Scheme`` wins over
``X-Forwarded-Proto``, whose last value is the one the nearest proxy set.
"""

from __future__ import annotations

from collections.abc import Collection

from tornadish._http.headers import HTTPHeaders
from tornadish.netutil import is_valid_ip

__all__ = ["forwarded_client"]


def forwarded_client(
    headers: HTTPHeaders,
    peer_ip: str | None,
    trusted_downstream: Collection[str],
    default_scheme: str,
) -> tuple[str | None, str]:
    """The client's address and the scheme it used, as the proxy headers tell them.

    >>> h = HTTPHeaders({"X-Forwarded-For": "203.0.113.7, 10.0.0.2"})
    >>> forwarded_client(h, "10.0.0.1", {"10.0.0.2"}, "http")
    ('203.0.113.7', 'http')
    """
    ip = peer_ip
    forwarded = headers.get("X-Forwarded-For")
    if forwarded:
        for candidate in reversed([h.strip() for h in forwarded.split(",")]):
            if candidate not in trusted_downstream:
                ip = candidate
                break
    ip = headers.get("X-Real-Ip", ip)
    remote_ip = ip if ip and is_valid_ip(ip) else peer_ip
    proto = headers.get("X-Scheme", headers.get("X-Forwarded-Proto"))
    if proto:
        proto = proto.split(",")[-1].strip().lower()
    return remote_ip, proto if proto in ("http", "https") else default_scheme
