"""Process plumbing every layer shares: the settings snapshot, failure logging, re-entry and fork safety, exit
flush, the launcher hook.
"""
