"""The coordinator's console: the window and its import, queue, dashboard and devices panels."""
