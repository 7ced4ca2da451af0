"""Templates and static assets of the static leaderboard site (package data).

Installed as ``timelens_eval_leaderboard``; ``timelens-eval leaderboard build`` reads them
with :mod:`importlib.resources`.
"""
