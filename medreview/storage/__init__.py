"""SQLAlchemy 2 storage: the only package that imports sqlalchemy and alembic."""
