"""Escaping user text for the Temporal UI, which renders summaries and details as Markdown."""

import string

# Every ASCII punctuation character may be backslash-escaped in CommonMark and then shows as
# itself; escaping them all leaves no link, emphasis, code span or autolink (`https\:`,
# `www\.`) to a name. <, > and & become entities instead, which the UI shows as the characters.
_ESCAPES = {ord(c): "\\" + c for c in string.punctuation if c not in "<>&"}
_ESCAPES.update({ord("<"): "&lt;", ord(">"): "&gt;", ord("&"): "&amp;"})
# Line breaks would start a new block (a heading, a list, a quote) after our own text.
_ESCAPES.update({ord("\r"): " ", ord("\n"): " "})


def escape(text: str) -> str:
    """User text (a business, client, bookkeeper or firm name) as literal Markdown text."""
    return text.translate(_ESCAPES)
