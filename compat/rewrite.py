"""Rewrite Tornado's test sources so that they test another package.

Pure text in, text out (no files, no imports): ``rewrite(source, target="tornadish")``
is what turns ``tornado/test/web_test.py`` into a test of tornadish. Two rules, applied
in this order, are enough for Tornado 6.6.1's suite:

1. The test package is renamed: ``tornado.test`` becomes :data:`SUITE_PACKAGE` wherever
   it is named (``from tornado.test.util import ...``, ``"tornado.test.util_test.X"``
   handed to ``import_object``, ``python -c "import tornado.test.resolve_test_helper"``).
   ``tornado.testing`` is a different module and is left to rule 2.
2. Every other ``tornado`` *word* becomes ``target``: module imports (``import tornado``,
   ``from tornado import web``, ``from tornado.web import RequestHandler``), dotted
   references (``tornado.web.URLSpec``), the bare module name (``tornado.__all__``,
   ``_submodules(tornado)``) and strings naming modules or loggers (``"tornado.access"``,
   ``mock.patch("tornado.iostream...")``, ``logging.getLogger("tornado")``,
   ``f"tornado.{mod}"``). It works word by word, like the ``sed`` in docs/migrating.md,
   so a comment saying "a tornado coroutine" is rewritten too, harmlessly.

   Not a module name, so left alone: ``tornado`` inside a longer identifier
   (``tornado_test_ctx``, ``tornadoweb``), in a URL or path (``/tornado/test``,
   ``github.com/tornadoweb/tornado/issues``), in an e-mail address
   (``tornado@web.com``, which a data file must match) and in ``tornado-quick``.

With ``target="tornado"`` only rule 1 changes anything: that is the identity pass, which
runs the same renamed suite against Tornado itself.
"""

from __future__ import annotations

import re

#: The name the copied ``tornado.test`` package gets in both passes. It must not be a
#: word rule 2 rewrites, nor collide with an installed package.
SUITE_PACKAGE = "tornado_suite"

_TEST_PACKAGE = re.compile(r"\btornado\.test\b")
# ``\b`` keeps longer identifiers out; the look-arounds keep out paths, URLs,
# e-mail addresses and hyphenated names.
_TORNADO_WORD = re.compile(r"(?<![/\-])\btornado\b(?![@/\-])")


def rewrite(source: str, target: str = "tornadish") -> str:
    """Return Tornado test ``source`` rewritten to test the package ``target``.

    >>> rewrite("from tornado.test.util import TestCase")
    'from tornado_suite.util import TestCase'
    >>> rewrite('import tornado.web\\nlog = logging.getLogger("tornado.access")')
    'import tornadish.web\\nlog = logging.getLogger("tornadish.access")'
    >>> rewrite("from tornado.web import RequestHandler", target="tornado")
    'from tornado.web import RequestHandler'
    """
    source = _TEST_PACKAGE.sub(SUITE_PACKAGE, source)
    return _TORNADO_WORD.sub(target, source)
