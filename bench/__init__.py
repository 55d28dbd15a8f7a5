"""FieldScreen's benchmarks: `python -m bench [SUITE ...] [--quick] [--json FILE]`.

Each suite is a module `bench/<name>.py` listed in `SUITES` in `bench/__main__.py`, with
a function `run(quick: bool) -> list[bench.core.Result]`. See bench/README.md.
"""
