"""Learned restoration models (torch and diffusers): networks, sampling, training, checkpoints.

Nothing here is imported by the web process: engines import these modules inside their methods.
"""
