"""Business logic as plain functions over a database session: called by API routes and
activities alike, and tested directly."""
