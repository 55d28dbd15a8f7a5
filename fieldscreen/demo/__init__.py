"""Demo mode: synthetic children (`children`) and training scenarios (`scenarios`), no real data."""
