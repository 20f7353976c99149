"""Judging: the yes/no judge (LLM or deterministic check) and its validation against labels."""
