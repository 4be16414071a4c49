"""Subtext: a self-hosted brand opinion monitor that reads between the lines."""

__version__ = "0.1.0"
