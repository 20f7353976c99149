"""therapy-audit: audit LLMs and chatbots for clinical safety in mental-health conversations."""

__version__ = "0.1.0"
