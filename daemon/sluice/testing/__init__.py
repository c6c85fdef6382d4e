"""Test doubles shipped with the package, so tests in any language and demos can start them.

`sluice.testing.fakeprovider` serves the OpenAI, Anthropic and Gemini wire protocols with
injectable faults: `python -m sluice.testing.fakeprovider --port 0`.
"""
