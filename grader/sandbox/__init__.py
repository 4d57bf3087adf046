"""The trust boundary: a sandboxed worker process that runs student code, and the trusted client.

- ``client``: the trusted side's ``Worker`` (start, requests, deadlines, fences);
  ``errors``, ``output`` and ``proxies`` are its parts (exception types, the raw-output
  drain, read-only proxies of objects that stay in the worker).
- ``isolation``: the bubblewrap command line (namespaces, the allowlisted file system);
  ``cgroup``: a memory cap per worker; ``fence``: ends processes a call left behind.
- ``limits``: every timeout and resource limit, in one ``Limits``.
- ``wire`` and ``worker`` run inside the sandbox as two plain files: they must never
  import anything else from ``grader``.
"""
