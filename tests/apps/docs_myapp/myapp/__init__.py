"""A user's agent package, named as the README's examples name it."""
