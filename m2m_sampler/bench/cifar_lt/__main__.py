"""``python -m m2m_sampler.bench.cifar_lt``: the CIFAR-LT-10 reproduction's command line."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    main(sys.argv[1:])
    sys.exit(0)
