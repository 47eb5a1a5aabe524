"""The `keras-gpt1` command line: parses flags and calls the library."""
