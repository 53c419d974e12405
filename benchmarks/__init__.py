"""Benchmarks for lifting_dfer: timing code only, never imported by the library.

Entry points (run from the repository root):

- ``python -m benchmarks.run``: CPU/GPU timings (library vs naive references, full models), a table on stdout
  and a JSON record in ``benchmarks/results/``.
- ``python -m benchmarks.gpu``: the prepared GPU check (CUDA == CPU, bf16 training step, training throughput
  with and without ``torch.compile``); ``--dry-run`` runs it on CPU at tiny shapes.
- ``python -m benchmarks.make_docs``: renders ``docs/performance.md`` from the JSON records.
"""
