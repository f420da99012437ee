"""Screens pushed over the panes: details, confirmation, plan, suggestions, help."""
