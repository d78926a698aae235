"""Differential testing: the same Dockerfile, context and probe on several engines, compared."""
