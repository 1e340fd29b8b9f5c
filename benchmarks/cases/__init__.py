"""The benchmark cases, one module per section of benchmarks/README.md."""
