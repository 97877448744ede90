"""Test-session settings.

The models in the tests are tiny: one torch thread is as fast as two on the 2-core CI
machines, and it keeps the suite from slowing down several-fold when another process
competes for the cores (oversubscribed OpenMP threads spin).
"""

import torch

torch.set_num_threads(1)
