"""The core flow: captures from the request path, the queue and worker, and the compiled
policy (steps and pipeline) that turns a capture into records."""
