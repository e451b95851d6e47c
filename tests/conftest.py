"""Test-wide settings: render offscreen, never open a window."""

import os

os.environ["PYVISTA_OFF_SCREEN"] = "true"
