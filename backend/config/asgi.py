"""The one ASGI application: HTTP through Django (behind the body limits; a device's press and
heartbeat answered in front of Django, mobile_api/alerts/device_asgi.py, and the health probes
before anything else, mobile_api/health/asgi.py), websockets through Channels.

In the embedded default (no REDIS_URL) the in-memory channel layer only reaches sockets of this
process, so the dispatcher runs here, in a worker thread of the server's event loop started
by the ASGI lifespan. With Redis,
run `manage.py dispatcher` processes instead (as many as you like).
"""

import logging
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
from mobile_api.health.asgi import ProbeFastPath  # noqa: E402
from realtime.routing import websocket_application  # noqa: E402


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    stop = None
    receiver = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.EMBEDDED_DISPATCHER:
                _, stop = dispatcher.start_in_loop()
            if settings.ALARM_RECEIVER_EMBEDDED:
                receiver = await _start_receiver()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if stop is not None:
                stop.set()
            if receiver is not None:
                receiver.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def _start_receiver() -> Any:
    """The DC-09 receiver in this process (`make run`); a port already taken is logged, and
    the HTTP server runs on without it."""
    from alarm_receiver.server import start_from_settings

    try:
        listening = await start_from_settings()
    except OSError:
        logging.getLogger(__name__).exception("the embedded alarm receiver could not listen")
        return None
    logging.getLogger(__name__).warning(
        "alarm receiver listening on %s tcp %s udp %s",
        settings.ALARM_RECEIVER_HOST,
        listening.tcp_port or "off",
        listening.udp_port or "off",
    )
    return listening


application = ProtocolTypeRouter(
    {
        "http": ProbeFastPath(BodyLimit(DeviceFastPath(django_asgi_app))),
        "websocket": websocket_application,
        "lifespan": lifespan,
    }
)
