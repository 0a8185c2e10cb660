"""`python -m bench` (what `make bench` runs); `python -m bench --small` or BENCH_SMALL=1 for CI."""

from bench.run import main

main()
