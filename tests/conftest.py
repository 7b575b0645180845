"""Fixture pattern files with intentional errors are data for the language tests, not test blocks."""

collect_ignore_glob = ["lang/*/*.cep"]
