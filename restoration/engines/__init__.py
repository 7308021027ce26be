"""Restoration engines: one module per engine behind `base.Engine`, loaded through `registry`."""
