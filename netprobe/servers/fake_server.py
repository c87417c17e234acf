"""A throwaway backend: the selectors server under another name, to show where a backend lands."""

from netprobe.servers.selector_server import SelectorServer


class FakeServer(SelectorServer):
    """The selectors backend, registered as ``fake``."""

    name = "fake"
