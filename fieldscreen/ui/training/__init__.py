"""Training mode's own screens: the scenario library and its replay."""
