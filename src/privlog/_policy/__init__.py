"""The policy: the declarative model, its section parsers, and the field registry it is checked against."""
