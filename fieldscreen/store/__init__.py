"""The encrypted local store: key slots, records, drafts and the audit log."""
