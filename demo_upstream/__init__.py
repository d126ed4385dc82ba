"""A Comet-compatible REST server with a seeded data set: the gateway's demo and test upstream.

It follows the real API's paths, parameters, JSON shapes and errors, so that switching from the
demo to real Comet changes one URL and one key. The gateway never imports this package on its
request path.
"""

from .app import keys, make_app, serve
from .knobs import Fault

__all__ = ["Fault", "keys", "make_app", "serve"]
