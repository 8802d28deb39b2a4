"""Running and embedding: python -m tornadish run, serve, graceful shutdown (tornadish._runner)."""
