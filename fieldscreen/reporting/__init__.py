"""The coordinator's numbers: statistics over imported records, and their exports."""
