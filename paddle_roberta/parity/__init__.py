"""Parity: compare outputs, verify a directory against its source, the gate every output passes, loading."""
