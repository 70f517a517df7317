"""The process's own logs under the policy: how a stream shapes log text (shape), scrubbing a
record's message, arguments, extra fields and traceback (records), and the filters on the
servers' and frameworks' loggers (servers). The public face is :mod:`privlog.logging`."""
