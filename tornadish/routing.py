"""Routing: which handler serves a request.

A :class:`Rule` pairs a :class:`Matcher` (on the path, the host, or anything) with a
target: a ``RequestHandler`` subclass, a nested list of rules, or another :class:`Router`.
:class:`URLSpec` (alias :func:`url`) is the familiar ``(regex, handler, kwargs, name)``.

Patterns are compiled once, when the rule is added. A path pattern always matches the
whole path (a ``$`` is appended when missing); positional groups become the handler
method's arguments, named groups its keyword arguments, percent-decoded.

Cost of matching: rules are tried in order, each with one ``re.match``. Patterns are
ordinary Python regular expressions, so a pattern with nested quantifiers such as
``(a+)+$`` can backtrack exponentially on hostile paths; keep route patterns simple
(character classes and single quantifiers), which match in linear time.
"""

from __future__ import annotations

from tornadish._web.routing import (
    AnyMatches,
    DefaultHostMatches,
    HostMatches,
    Matcher,
    PathMatches,
    ReversibleRouter,
    ReversibleRuleRouter,
    Router,
    Rule,
    RuleRouter,
    URLSpec,
    url,
)

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
