"""The sample notes service that the gangway pipeline builds, tests and deploys."""

__version__ = "0.1.0"
