"""The outreach worker's window and its screens: home, checklist, result, sync."""
