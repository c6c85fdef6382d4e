"""The question pairs issue #4 names, shared by the verifier's unit and integration tests.

Cosine with all-MiniLM-L6-v2: the first three look-alikes score ≥ 0.99 (cosine alone would
serve them at any threshold); "delete a directory" scores 0.789, below the verifier's recall
threshold; the paraphrases score 0.90–0.94, below the cosine-only default 0.97.
"""

from __future__ import annotations

# (cached, asked)
ISSUE_LOOK_ALIKES = [
    ("Flight from London to Paris", "Flight from Paris to London"),
    ("Does this medication cause drowsiness?", "Does this medication not cause drowsiness?"),
    ("Convert 100 Fahrenheit to Celsius", "Convert 100 Celsius to Fahrenheit"),
    ("How do I delete a file in Linux?", "How do I delete a directory in Linux?"),
]
# The ones cosine alone would serve (≥ 0.99): they reach the verifier through the cache.
COSINE_LOOK_ALIKES = ISSUE_LOOK_ALIKES[:3]
ISSUE_PARAPHRASES = [
    ("Who wrote War and Peace?", "Who is the author of War and Peace?"),
    ("How do I delete a file in Linux?", "How can I remove a file on Linux?"),
]
