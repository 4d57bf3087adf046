"""The trust boundary: a sandboxed worker process that runs student code, and the trusted client.

- ``client``: the trusted side's ``Worker`` (requests, deadlines, fences); ``launch``
  starts its process; ``errors``, ``output`` and ``proxies`` are its parts (why a worker
  died, the raw-output drain, read-only proxies of objects that stay in the worker). The
  exception types it raises live in ``grader.faults``, below every layer that catches them.
- ``isolation``: the bubblewrap command line (namespaces, the allowlisted file system);
  ``cgroup``: a memory cap per worker; ``fence``: ends processes a call left behind.
- ``limits``: every timeout and resource limit, in one ``Limits``.
- ``wire`` and ``worker`` run inside the sandbox as two plain files: they must never
  import anything else from ``grader``.
"""
