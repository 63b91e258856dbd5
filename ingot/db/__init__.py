"""Persistence: tables, migrations and the queries the rest of ingot runs."""
