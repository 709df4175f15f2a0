"""The evidence vault (ARCHITECTURE.md design 5): uploads sniffed, limited, encrypted at rest under their
own keys, hashed onto the event log, checked again at every download, served only through a
permission-checked view."""
