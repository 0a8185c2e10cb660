"""The one ASGI application: HTTP through Django (behind the body limits; a device's press and
heartbeat answered in front of Django, mobile_api/alerts/device_asgi.py), websockets through
Channels.

In the embedded default (no REDIS_URL) the in-memory channel layer only reaches sockets of this
process, so the dispatcher runs here, in a worker thread of the server's event loop started
by the ASGI lifespan. With Redis,
run `manage.py dispatcher` processes instead (as many as you like).
"""

import os
from typing import Any

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backend.config.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from backend.core import dispatcher  # noqa: E402
from backend.core.bodylimit import BodyLimit  # noqa: E402
from mobile_api.alerts.device_asgi import DeviceFastPath  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    stop = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.EMBEDDED_DISPATCHER:
                _, stop = dispatcher.start_in_loop()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if stop is not None:
                stop.set()
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "http": BodyLimit(DeviceFastPath(django_asgi_app)),
        "websocket": websocket_application,
        "lifespan": lifespan,
    }
)
