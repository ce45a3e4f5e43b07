"""Side-by-side benchmark harness for Python task queues on Redis (``python -m bench``).

Not part of the dtq library or its test suite; see ``bench/README.md``.
"""
