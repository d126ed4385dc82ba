"""What shared caches may keep: nothing the gateway answers for a key.

Every answer but the static bundles (GraphiQL's, the dashboard's) depends on the caller's key
(the data, the pages of GraphiQL and the dashboard in `demo`, a download), so it says
`Cache-Control: private` (unless it set its own) and `Vary: Authorization`; `/graphql`
negotiates its content type, so it varies on `Accept` too. A
CDN or proxy in front then never hands one key's answer to another caller, even for a
persisted query sent as GET.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class PrivateAnswers:
    def __init__(self, app: ASGIApp, public_prefixes: tuple[str, ...] = ()) -> None:
        self.app = app
        self.public_prefixes = public_prefixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope.get("path", "")
        if scope["type"] != "http" or (self.public_prefixes
                                       and path.startswith(self.public_prefixes)):
            await self.app(scope, receive, send)
            return
        varies = ("Authorization", "Accept") if path == "/graphql" else ("Authorization",)

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Cache-Control", "private")
                for name in varies:
                    headers.add_vary_header(name)
            await send(message)

        await self.app(scope, receive, send_private)
