"""Helpers the suites share: PostgreSQL, sshd, a registry, load, the fake host, the bare app."""
