"""Building the cache: one stage per module, glued by pipeline.py."""
