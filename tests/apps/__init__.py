"""Apps of the tests' own, unlike the sample app, for gangway to deploy."""
