"""Routing: which tier the cascade starts at.

    router.py      hints win; else the namespace's policy, with shadow / A-B split / rollout
    fixed.py       fixed routing: a pinned model, a requested start tier, or the cheapest tier
    rules.py       keywords, regex, prompt length, task tags → a tier or a model
    classifier.py  prompt embedding → the cheapest tier that suffices (trained on replay data)
    bandit.py      LinUCB on the prompt embedding, learning from the Feedback RPC
    ../routing_config.py  the `routing:` config section (beside config.py, which imports it)

Not built: reloading the routing config without a restart (SIGHUP / file watch).
"""
