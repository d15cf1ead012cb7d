"""Tokenizer files both ways and their checks; kind.py decides which kind a directory holds."""
