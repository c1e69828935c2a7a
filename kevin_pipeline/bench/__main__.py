"""`python -m kevin_pipeline.bench`: the benchmarks `make bench` runs."""

import sys

from kevin_pipeline.bench.runner import main

sys.exit(main())
