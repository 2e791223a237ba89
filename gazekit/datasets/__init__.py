"""Readers of published eye-tracking formats, synthetic generators, and Lightning DataModules."""
