"""What the tests share: policies, a capturing sink, request builders and helper servers."""
