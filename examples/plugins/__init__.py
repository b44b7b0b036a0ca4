"""Example plugins: good ones here, misbehaving ones in `misbehaving/`."""
