"""Field-to-coordinator exchange: deployment packs, sealed batches, transports and import."""
