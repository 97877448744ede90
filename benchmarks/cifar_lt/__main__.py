"""``python -m benchmarks.cifar_lt``: the CIFAR-LT-10 reproduction's command line."""

from __future__ import annotations

import sys

from benchmarks.cifar_lt.cli import main

if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
