"""End-to-end tests: whole user journeys through the real command line."""
