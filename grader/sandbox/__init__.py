"""The trust boundary: a worker process that runs student code, and the trusted client.

``wire`` and ``worker`` are copied into the worker's private directory and imported there
on their own: they must never import anything else from ``grader``.
"""
