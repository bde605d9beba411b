"""Developer helpers: synthetic test videos and tiny offline models."""
