"""`dbtop demo`: an embedded PostgreSQL 18 with a sample schema and a live workload."""
