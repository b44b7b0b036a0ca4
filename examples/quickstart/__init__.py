"""Quickstart: enqueue a few jobs, run a worker on them, print the results."""
