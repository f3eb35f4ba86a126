"""The `modelplane` command: thin commands over the other packages."""
