"""Benchmark: the bundle's wiring against a hand-written Pulumi program registering the same resources."""
