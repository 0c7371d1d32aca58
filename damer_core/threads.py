"""Torch's intra-op thread count, set for a block of code and restored after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads (the process-wide setting), then restore it.

    Matrix products and convolutions add up in an order that depends on the thread count, so two
    computations that must agree bit for bit (a feature cache filled in worker processes and one filled in
    place) run with the same count.
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
