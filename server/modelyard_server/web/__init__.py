"""The web UI: server-rendered pages over the registry's use cases (DESIGN.md 7b)."""
