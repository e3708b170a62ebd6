"""Functions the overhead benchmark instruments through a declarative target."""


def targeted(x: int) -> int:
    return x + 1
