"""Layer 3, templates: Tornado's template API on Jinja2, with Tornado's syntax translated.

Rules of this folder:

1. A template is translated and compiled once, when first loaded; rendering does no
   parsing.
2. It imports only the foundation and Jinja2: it knows nothing of requests.
"""
