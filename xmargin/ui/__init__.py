"""The interface: the `xmargin` CLI, charts, reports, the demo, `ape run` glue.

The top layer: may import every other layer; nothing imports it.
"""
