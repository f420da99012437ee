"""The Textual app: screens, panes, widgets and their .tcss (knows Textual, never SQL)."""
