"""Nuvom's plugin system: contracts, discovery, the registry, and isolated plugin hosts."""
