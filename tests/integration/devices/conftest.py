"""Device integration tests get the real PostgreSQL fixture."""

pytest_plugins = ["tests.fixtures.postgres"]
