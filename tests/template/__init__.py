"""Templates: Tornado's template API and syntax on Jinja2 (tornadish._template)."""
