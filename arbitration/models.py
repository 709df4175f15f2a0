"""Models of the arbitration app: an empty shell until its issue gives it substance (see ARCHITECTURE.md)."""
