"""The websocket front door: the Origin check, with room for non-browser clients holding a ticket.

Browsers always send an Origin header on a websocket handshake, so a handshake from another site is
refused by AllowedHostsOriginValidator. A non-browser client (a merchant's platform, a mobile app)
usually sends none; it may connect without one only with a single-use ``?ticket=``, which it can only
have obtained through the authenticated API. Cookies alone, without an Origin, are refused.
"""

from urllib.parse import parse_qs

from channels.security.websocket import AllowedHostsOriginValidator, WebsocketDenier


class OriginOrTicketValidator:
    def __init__(self, application):
        self.checked = AllowedHostsOriginValidator(application)
        self.application = application

    async def __call__(self, scope, receive, send):
        has_origin = any(name == b"origin" for name, _value in scope.get("headers", []))
        if has_origin:
            return await self.checked(scope, receive, send)
        if parse_qs(scope.get("query_string", b"").decode("latin1")).get("ticket"):
            # No cookie-based identity may ride along: the consumer authenticates by the ticket alone.
            scope = {**scope, "headers": [(n, v) for n, v in scope.get("headers", []) if n != b"cookie"]}
            return await self.application(scope, receive, send)
        return await WebsocketDenier()(scope, receive, send)
