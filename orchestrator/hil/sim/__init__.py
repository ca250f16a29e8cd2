"""Simulated devices and links for tests and benchmarks: the virtual device on a pty and a seeded fault link."""
