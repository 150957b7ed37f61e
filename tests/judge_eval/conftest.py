"""The judge tests' fake server and in-memory keyring, for the judge-evaluation tests."""

from tests.judge.conftest import memory_keyring, server

__all__ = ["memory_keyring", "server"]
