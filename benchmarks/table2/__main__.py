"""``python -m benchmarks.table2``: the Table 2 suite's command line."""

from benchmarks.table2.suite import main

raise SystemExit(main())
