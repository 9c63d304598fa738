"""The model repository as the service sees it: which versions serve, polled and swapped."""
