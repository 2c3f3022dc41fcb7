"""Answering a query from caches: encode, retrieve, snap, select."""
