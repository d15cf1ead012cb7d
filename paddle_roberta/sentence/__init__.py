"""sentence-transformers models: their pipeline (modules), Paddle pooling, the encoder, the files."""
