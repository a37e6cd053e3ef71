"""The thin HTTP API: validates requests, writes jobs to Redis, enqueues work, answers polls.

All job state lives in Redis (``shared/``); this package only translates HTTP to store calls,
so any number of API processes can serve the same jobs.
"""
