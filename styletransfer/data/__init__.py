"""Data: the catalog of pieces (Maestro or the bundled corpus), its preparation into a token cache, the
training examples drawn from it, and reading a user's melody file."""
