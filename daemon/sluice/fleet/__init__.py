"""Fleet mode: pods share state through Redis (issue #20). Off by default."""
