"""Benchmarks that run the real parts on loopback; each module is a script (`python -m bench.x`)."""
