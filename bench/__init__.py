"""Benchmarks and the fuzz harness; each module also runs as a script (python bench/<name>.py).
A package so that the tests can import them (from bench import fuzz).
"""
