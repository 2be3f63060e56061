"""The one harness of the benchmarks and the process-level tests.

It starts the product's parts as `make run` does (`processes`, `product`, `parts`), drives it as
its people do over HTTP (`drivers`), reads the mail it sends (`mail`) and the workflows'
histories (`history`), and turns timings and /proc readings into figures (`stats`, `cpu`).
"""
