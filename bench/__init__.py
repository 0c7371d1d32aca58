"""Benchmark scripts: each prints a table and, with ``--json PATH``, writes its numbers."""
