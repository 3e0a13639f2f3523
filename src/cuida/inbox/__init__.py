"""The agents' inbox: the list query (views, sorts, search, badges) and saved filters."""
