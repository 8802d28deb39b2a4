"""The "Use Methods" seed: a module imported by a template with ``{% import methods %}``."""


def add(a: int, b: int) -> int:
    return a + b
