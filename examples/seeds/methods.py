"""Seed 000, "TEMPLATES POSSIBILITIES", "Use Methods": the module the template imports.

Verbatim. The template does ``{% import methods%}``, so this directory must be on
``sys.path`` (``s000_use_methods`` puts it there).
"""

def add(a, b):
    return a + b
