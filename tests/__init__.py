"""Tests of the gangway repository; shared helpers such as `tests.pg` live here."""
