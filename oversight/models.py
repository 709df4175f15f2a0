"""Models of the oversight app: an empty shell until its issue gives it substance (see ARCHITECTURE.md)."""
