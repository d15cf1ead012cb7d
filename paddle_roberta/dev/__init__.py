"""For development and demos: seed shapes, synthetic trained-looking checkpoints, the demo, seed scripts."""
