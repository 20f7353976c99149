"""Multi-turn experiment: a scripted or simulated client, criteria judged on every turn."""
