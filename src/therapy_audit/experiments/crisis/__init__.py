"""Appropriate-response experiment: client messages that signal a condition, judged on criteria."""
