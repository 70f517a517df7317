"""The policy in the reader's words: the privacy notice, its diff, and the record of processing.

All wording lives in translation files (``locales/<language>.toml``); the code only chooses
which sentence applies and fills in the policy's values, so a new language is a new file.
"""
