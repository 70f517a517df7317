"""Operator tools that never run on the request path (data-subject requests)."""
