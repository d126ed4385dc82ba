"""comet-graphql-gateway: a GraphQL gateway over the Comet ML REST API v2 read endpoints."""

__version__ = "0.1.0"
