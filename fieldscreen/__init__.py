"""FieldScreen: offline screening of children for vulnerability to trafficking and exploitation."""

__version__ = "0.1.0"
