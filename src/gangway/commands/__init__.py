"""Pure functions that build the argv of the commands gangway runs; nothing here executes."""
