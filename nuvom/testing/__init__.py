"""Reusable checks for backends: `contract` (plain Python) and `stateful` (Hypothesis)."""
