"""Subtext: a self-hosted brand opinion monitor that reads between the lines."""

__version__ = "0.1.0"

# How Subtext names itself to the sites it fetches from, and to its own engine.
USER_AGENT = f"Subtext/{__version__} (self-hosted brand monitor)"
