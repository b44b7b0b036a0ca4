"""Plugins that misbehave on purpose, in start() or during a call (settings["when"])."""
