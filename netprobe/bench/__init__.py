"""Benchmarks users run on their own machine: selectors' scan cost and concurrency models."""
