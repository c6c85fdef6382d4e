"""`sluice serve --demo` and `sluice demo`: the daemon on fake tiers, and a tour of it."""
