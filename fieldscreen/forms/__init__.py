"""Checklist forms: the schema, the YAML loader and validator, and the expression language."""
