"""Root conftest: the devstack's session fixtures (real Kafka and PostgreSQL) for every test."""

pytest_plugins = ["shouwang_devstack.pytest_plugin"]
