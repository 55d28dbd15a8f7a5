"""The screening engine: answers, relevance, scoring and referral decisions. Pure; no I/O, no Qt."""
