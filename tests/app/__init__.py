"""Tests of the sample service in app/."""
