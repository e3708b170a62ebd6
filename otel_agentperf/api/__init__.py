"""What users write or configure: decorators, ``segment``, declarative targets and the instrumentor that applies
them.
"""
