"""Everything that touches the database: tables, engine set-up, migrations and queries."""
