"""Operations become telemetry: operation descriptions, the invocation of each kind, the one recorder, bounds, cost
and memory.
"""
