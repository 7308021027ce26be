"""Style transfer (CycleGAN, CUT): networks, losses, data, training. Imports torch; load lazily."""
