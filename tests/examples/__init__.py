"""The examples, the seed programs and the documentation, run as tests."""
