"""Family tables (Hugging Face <-> PaddleNLP tensor names), the plan read both ways, config conversion."""
