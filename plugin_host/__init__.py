"""The program that runs one plugin in its own process: `python -I -m plugin_host --fd N`.

It knows nothing about the worker's internals: it speaks the wire protocol on the
inherited socket, loads the plugin the handshake names, and serves the backend
contract's methods on the objects the plugin registered.
"""
