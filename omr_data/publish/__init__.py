"""Publishing internals: published row forms, shard writing, the card, and the two backends.

The public entry points live in `omr_data.hub` (`publish`, `checkout_version`, ...).
"""
