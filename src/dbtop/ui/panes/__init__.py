"""The four panes (sessions, slow queries, indexes, locks): one module each."""
