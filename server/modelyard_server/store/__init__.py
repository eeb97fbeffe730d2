"""SQLAlchemy 2 async storage: tables, queries, and one unit of work per request."""
