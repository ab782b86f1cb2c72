"""Freed memory is kept for reuse: repeated large allocations stop page-faulting."""

from __future__ import annotations

import resource
import sys

import pytest
import torch

from cryomem.segment._malloc import reuse_freed_memory


def _page_faults_of_repeated_allocations(n_bytes: int, times: int = 5) -> int:
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(times):
        block = torch.ones(n_bytes // 4)  # float32; touches every page (numpy would ask for huge pages)
        del block
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc allocator tuning is Linux-only")
def test_large_blocks_are_reused_instead_of_faulted_in_again():
    assert reuse_freed_memory() is True
    assert reuse_freed_memory() is True  # idempotent
    n_bytes = 64 * 1024**2
    _page_faults_of_repeated_allocations(n_bytes, times=1)  # the heap grows once
    pages = n_bytes // resource.getpagesize()
    # without the tuning each of the five passes faults in all its pages (5 x pages); with it, at most one does
    assert _page_faults_of_repeated_allocations(n_bytes) <= pages
