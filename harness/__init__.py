"""Support code shared by the test suite and the benchmarks (never imported by the product):
`harness.processes` starts and stops the real processes both of them run."""
