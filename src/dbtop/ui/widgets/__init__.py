"""Reusable widgets: the virtual row table and the header."""
