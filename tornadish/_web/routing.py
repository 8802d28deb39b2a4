"""The implementation behind :mod:`tornadish.routing` (its public face re-exports it)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote_to_bytes

from tornadish._http.contract import (
    HTTPConnection,
    HTTPMessageDelegate,
    HTTPServerConnectionDelegate,
)
from tornadish._http.headers import HTTPHeaders
from tornadish._http.request import HTTPServerRequest
from tornadish._web.route_policy import RoutePolicy, route_policy

__all__ = [
    "AnyMatches",
    "DefaultHostMatches",
    "HostMatches",
    "Matcher",
    "PathMatches",
    "ReversibleRouter",
    "ReversibleRuleRouter",
    "Router",
    "Rule",
    "RuleRouter",
    "URLSpec",
    "url",
]


class Matcher:
    """Decides whether a request matches a rule."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        """``None`` for no match, else keyword arguments for the target
        (``path_args``/``path_kwargs`` for handlers)."""
        raise NotImplementedError()

    def reverse(self, *args: Any) -> str | None:
        """Rebuild a URL from arguments, when this matcher can."""
        return None


class AnyMatches(Matcher):
    """Matches every request."""

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {}


class HostMatches(Matcher):
    """Matches the request's host name against a regex (``$`` appended if missing)."""

    def __init__(self, host_pattern: str | re.Pattern[str]) -> None:
        if isinstance(host_pattern, str):
            if not host_pattern.endswith("$"):
                host_pattern += "$"
            self.host_pattern = re.compile(host_pattern)
        else:
            self.host_pattern = host_pattern

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        return {} if self.host_pattern.match(request.host_name) else None


class DefaultHostMatches(Matcher):
    """Matches when the application's ``default_host`` matches ``host_pattern`` and the
    request did not come through a proxy (no ``X-Real-Ip``)."""

    def __init__(self, application: Any, host_pattern: re.Pattern[str]) -> None:
        self.application = application
        self.host_pattern = host_pattern

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        if "X-Real-Ip" not in request.headers and self.host_pattern.match(
            self.application.default_host
        ):
            return {}
        return None


def _unquote(s: str | None) -> bytes | None:
    # None stays None: an optional group that did not participate.
    if s is None:
        return None
    if "%" not in s:
        return s.encode("utf-8")  # what unquote_to_bytes returns then, without its steps
    return unquote_to_bytes(s)


class PathMatches(Matcher):
    """Matches ``request.path`` against a regular expression."""

    def __init__(self, path_pattern: str | re.Pattern[str]) -> None:
        if isinstance(path_pattern, str):
            if not path_pattern.endswith("$"):
                path_pattern += "$"
            self.regex = re.compile(path_pattern)
        else:
            self.regex = path_pattern
        if self.regex.groupindex and self.regex.groups != len(self.regex.groupindex):
            raise ValueError(f"{self.regex.pattern!r} mixes named and unnamed groups; use one kind")
        self.named = bool(self.regex.groupindex)
        self._path, self._group_count = self._find_groups()

    def match(self, request: HTTPServerRequest) -> dict[str, Any] | None:
        m = self.regex.match(request.path)
        if m is None:
            return None
        return self.extract(m)

    def extract(self, m: re.Match[str]) -> dict[str, Any]:
        """Turn a successful match into handler arguments."""
        args, kwargs = self.arguments(m)
        return {"path_args": args, "path_kwargs": kwargs}

    def arguments(self, m: re.Match[str]) -> tuple[list[bytes | None], dict[str, bytes | None]]:
        """A successful match's ``(path_args, path_kwargs)``, unquoted to bytes."""
        if self.named:
            return [], {k: _unquote(v) for k, v in m.groupdict().items()}
        return [_unquote(s) for s in m.groups()], {}

    def reverse(self, *args: Any) -> str | None:
        if self._path is None:
            raise ValueError(f"Cannot reverse a URL for pattern {self.regex.pattern!r}")
        if len(args) != self._group_count:
            raise ValueError("required number of arguments not found")
        if not args:
            return self._path
        from tornadish.escape import url_escape, utf8

        converted = [
            url_escape(utf8(a) if not isinstance(a, bytes) else a, plus=False)
            if not isinstance(a, (int, float))
            else str(a)
            for a in args
        ]
        return self._path % tuple(converted)

    def _find_groups(self) -> tuple[str | None, int]:
        """``/user/(\\d+)/x`` → ``("/user/%s/x", 1)``; ``(None, n)`` when the pattern
        is too complex to reverse (nested groups, alternation outside groups, ...)."""
        pattern = self.regex.pattern
        if pattern.startswith("^"):
            pattern = pattern[1:]
        if pattern.endswith("$"):
            pattern = pattern[:-1]
        if self.regex.groups != pattern.count("("):
            return None, self.regex.groups
        pieces = []
        for fragment in pattern.split("("):
            if ")" in fragment:
                paren_loc = fragment.index(")")
                if paren_loc >= 0:
                    try:
                        unescaped = _re_unescape(fragment[paren_loc + 1 :])
                    except ValueError:
                        return None, self.regex.groups
                    pieces.append("%s" + unescaped.replace("%", "%%"))
            else:
                try:
                    unescaped = _re_unescape(fragment)
                except ValueError:
                    return None, self.regex.groups
                pieces.append(unescaped.replace("%", "%%"))
        return "".join(pieces), self.regex.groups


_SPECIAL = set("\\.^$*+?{}[]|()")


def _re_unescape(s: str) -> str:
    """Undo ``re.escape``-style escapes; raise ValueError on real regex syntax."""
    out = []
    i = 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            if i + 1 >= len(s):
                raise ValueError("trailing backslash")
            nxt = s[i + 1]
            if nxt.isalnum():
                raise ValueError("character class escape")
            out.append(nxt)
            i += 2
            continue
        if c in _SPECIAL:
            raise ValueError("regex syntax")
        out.append(c)
        i += 1
    return "".join(out)


class Rule:
    """A routing rule: ``matcher`` decides, ``target`` serves."""

    #: What the rule's requests get beyond the server's defaults (body limit, body
    #: timeout, deadline, disconnect policy), resolved once from a handler class's
    #: attributes (and :class:`URLSpec`'s arguments); None: nothing.
    policy: RoutePolicy | None = None

    def __init__(
        self,
        matcher: Matcher,
        target: Any,
        target_kwargs: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        if isinstance(target, str):
            from tornadish.util import import_object

            target = import_object(target)
        self.matcher = matcher
        self.target = target
        self.target_kwargs = target_kwargs if target_kwargs else {}
        self.name = name
        if isinstance(target, type):
            self.policy = route_policy(target)

    def reverse(self, *args: Any) -> str | None:
        """A URL for this rule built from ``args`` (see :meth:`Matcher.reverse`)."""
        return self.matcher.reverse(*args)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.matcher!r}, {self.target!r}, "
            f"kwargs={self.target_kwargs!r}, name={self.name!r})"
        )


class URLSpec(Rule):
    """``URLSpec(pattern, handler, kwargs=None, name=None)``: a path rule for a handler.

    ``kwargs`` are passed to the handler's ``initialize``; ``name`` makes the rule
    reachable through ``Application.reverse_url``.

    Keyword-only, tornadish's own: ``max_body_size`` (bytes; a larger body is answered
    ``413`` before it is read), ``body_timeout`` (seconds a body may stay silent: 408)
    and ``request_timeout`` (seconds from the head to the end of the response: 503, the
    handler cancelled) for this route's requests. Each wins over the handler class's
    attribute of the same name, and both over the server's values; None leaves it to
    them. Resolved once, here.

    >>> url(r"/upload", UploadHandler, max_body_size=1 << 30)  # doctest: +SKIP
    """

    def __init__(
        self,
        pattern: str | re.Pattern[str],
        handler: Any,
        kwargs: dict[str, Any] | None = None,
        name: str | None = None,
        *,
        max_body_size: int | None = None,
        body_timeout: float | None = None,
        request_timeout: float | None = None,
    ) -> None:
        matcher = PathMatches(pattern)
        super().__init__(matcher, handler, kwargs, name)
        self.regex = matcher.regex
        self.handler_class = self.target
        self.kwargs = self.target_kwargs
        if max_body_size is not None or body_timeout is not None or request_timeout is not None:
            self.policy = route_policy(
                self.target,
                max_body_size=max_body_size,
                body_timeout=body_timeout,
                request_timeout=request_timeout,
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.regex.pattern!r}, {self.handler_class!r}, "
            f"kwargs={self.kwargs!r}, name={self.name!r})"
        )


url = URLSpec

_RuleLike = Rule | Sequence[Any]


class Router(HTTPServerConnectionDelegate):
    """Something that maps a request to an ``HTTPMessageDelegate``."""

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        """The delegate that will serve ``request``, or ``None``."""
        raise NotImplementedError()

    def start_request(
        self, server_conn: object, request_conn: HTTPConnection
    ) -> HTTPMessageDelegate:
        return _RoutingDelegate(self, server_conn, request_conn)


class ReversibleRouter(Router):
    """A router that can also build URLs from rule names."""

    def reverse_url(self, name: str, *args: Any) -> str | None:
        """The URL of the rule called ``name``, or ``None``."""
        raise NotImplementedError()


class RuleRouter(Router):
    """Tries its rules in order; the first matching rule's target serves the request."""

    def __init__(self, rules: Sequence[_RuleLike] | None = None) -> None:
        self.rules: list[Rule] = []
        if rules:
            self.add_rules(rules)

    def add_rules(self, rules: Sequence[_RuleLike]) -> None:
        """Append rules; each is a ``Rule`` or a tuple/list ``(matcher_or_pattern,
        target[, kwargs[, name]])``."""
        for item in rules:
            if isinstance(item, Rule):
                rule = item
            else:
                assert len(item) in (2, 3, 4)
                if isinstance(item[0], str):
                    rule = Rule(PathMatches(item[0]), *item[1:])
                else:
                    rule = Rule(*item)
            self.rules.append(self.process_rule(rule))

    def process_rule(self, rule: Rule) -> Rule:
        """Hook to adjust a rule as it is added; nested rule lists become routers."""
        if isinstance(rule.target, (list, tuple)):
            rule.target = self._nested_router(rule.target)
        return rule

    def _nested_router(self, rules: Sequence[_RuleLike]) -> RuleRouter:
        return (
            type(self)(rules)
            if type(self) in (RuleRouter, ReversibleRuleRouter)
            else RuleRouter(rules)
        )

    def find_handler(self, request: HTTPServerRequest, **kwargs: Any) -> HTTPMessageDelegate | None:
        for rule in self.rules:
            params = rule.matcher.match(request)
            if params is not None:
                if rule.target_kwargs:
                    params["target_kwargs"] = rule.target_kwargs
                delegate = self.get_target_delegate(rule.target, request, **params)
                if delegate is not None:
                    return delegate
        return None

    def get_target_delegate(
        self, target: Any, request: HTTPServerRequest, **target_params: Any
    ) -> HTTPMessageDelegate | None:
        """Turn a matched rule's target into a delegate (override to add target kinds)."""
        if isinstance(target, Router):
            return target.find_handler(request, **target_params)
        if isinstance(target, HTTPServerConnectionDelegate):
            assert request.connection is not None
            return target.start_request(request.server_connection, request.connection)
        if callable(target):
            assert request.connection is not None
            return _CallableTarget(target, request)
        return None


class ReversibleRuleRouter(ReversibleRouter, RuleRouter):
    """A rule router whose named rules can be reversed into URLs."""

    def __init__(self, rules: Sequence[_RuleLike] | None = None) -> None:
        self.named_rules: dict[str, Rule] = {}
        super().__init__(rules)

    def process_rule(self, rule: Rule) -> Rule:
        rule = super().process_rule(rule)
        if rule.name:
            self.named_rules[rule.name] = rule
        return rule

    def reverse_url(self, name: str, *args: Any) -> str | None:
        if name in self.named_rules:
            return self.named_rules[name].matcher.reverse(*args)
        for rule in self.rules:
            if isinstance(rule.target, ReversibleRouter):
                reversed_url = rule.target.reverse_url(name, *args)
                if reversed_url is not None:
                    return reversed_url
        return None


class _CallableTarget(HTTPMessageDelegate):
    """Serves a plain ``callback(request)`` rule target once the body is in."""

    def __init__(self, callback: Any, request: HTTPServerRequest) -> None:
        self.callback = callback
        self.request = request
        self.chunks: list[bytes] = []

    def data_received(self, chunk: bytes) -> None:
        self.chunks.append(chunk)

    def finish(self) -> None:
        self.request.body = b"".join(self.chunks)
        self.request.parse_body()
        self.callback(self.request)


class _RoutingDelegate(HTTPMessageDelegate):
    """Builds the request at head time, finds its delegate, then forwards everything."""

    def __init__(self, router: Router, server_conn: object, request_conn: HTTPConnection):
        self.server_conn = server_conn
        self.request_conn = request_conn
        self.router = router
        self.delegate: HTTPMessageDelegate | None = None

    def headers_received(self, start_line: Any, headers: HTTPHeaders) -> Any:
        request = HTTPServerRequest(
            connection=self.request_conn,
            server_connection=self.server_conn,
            start_line=start_line,
            headers=headers,
        )
        self.delegate = self.router.find_handler(request)
        if self.delegate is None:
            self.delegate = _NotFound(self.request_conn)
        return self.delegate.headers_received(start_line, headers)

    def data_received(self, chunk: bytes) -> Any:
        assert self.delegate is not None
        return self.delegate.data_received(chunk)

    def finish(self) -> None:
        assert self.delegate is not None
        self.delegate.finish()

    def on_connection_close(self) -> None:
        if self.delegate is not None:
            self.delegate.on_connection_close()


class _NotFound(HTTPMessageDelegate):
    def __init__(self, conn: HTTPConnection) -> None:
        self.conn = conn

    def finish(self) -> None:
        body = b"404: Not Found"
        headers = [(b"Content-Length", str(len(body)).encode())]
        self.conn.send_response(404, "Not Found", headers, body, True)
