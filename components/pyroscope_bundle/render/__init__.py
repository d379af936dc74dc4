"""Offline render: run the real program under Pulumi mocks and write what it would deploy."""
