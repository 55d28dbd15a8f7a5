"""Demo mode: synthetic children and training scenarios, isolated from real data."""
