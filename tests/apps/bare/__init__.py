"""The bare app: a stdlib server on a scratch image (README.md)."""
