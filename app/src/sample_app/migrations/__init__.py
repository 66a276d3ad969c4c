"""Alembic migrations of the sample service, shipped inside the package."""
