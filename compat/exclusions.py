"""Every Tornado test module that ``make compat`` deliberately does not run, and why.

This is the one place exclusions live (issue 14: "nothing else is excluded"). The
harness runs every other ``*_test.py`` module of ``tornado/test/`` in both passes and
prints these under its table, so an exclusion is never silent. Removing an entry is
always welcome; adding one needs a reason a reviewer would accept, written here.
"""

from __future__ import annotations

#: Test module name (as in ``tornado/test/``, without ``.py``) -> why it cannot apply.
EXCLUDED: dict[str, str] = {
    "template_test": (
        "Tornado's own template language: tornadish renders templates with Jinja2 "
        "(docs/templates.md), so these tests check a language tornadish does not implement."
    ),
    "curl_httpclient_test": (
        "tornado.curl_httpclient wraps pycurl; tornadish has one client, "
        "simple_httpclient, whose tests do run."
    ),
    "twisted_test": (
        "Twisted integration (tornado.platform.twisted); tornadish runs on asyncio only, "
        "and Twisted's asyncio reactor needs nothing from it."
    ),
}
