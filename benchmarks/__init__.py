"""make bench: the course lab's patterns against the kit's (``benchmarks/run.py``; its README says what is measured)."""
