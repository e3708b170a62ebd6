"""Callables become recorded calls: call-shape wrappers, the patcher that installs and undoes them, the instrumentor
base.
"""
