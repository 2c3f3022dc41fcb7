"""Many recordings at once: a vector index over the windows and sentences of every recording
in a folder, derived from the sidecar caches (the source of truth)."""
