"""What the apiserver held when the console last read it: the snapshot pages read instead of
calling the server (a page view never waits on the apiserver).

Written by `changes.refresh` (the `refresh_server_state` command, the Refresh button, and apply
after it changes something); read through `console.snapshot.queries`.
"""
