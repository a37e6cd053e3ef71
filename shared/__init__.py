"""Code shared by the API and the workers: settings, models, Redis keys and scripts."""
