"""Several servers in one UI: one poller and one main screen per target, and the fleet
overview (one row per server) that opens them."""
