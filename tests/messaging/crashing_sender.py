"""A sender process that dies mid-send (run by test_sender_twilio as `python -m`).

DIE=before_send: killed after its claim committed, before the request.
DIE=after_send: killed after Twilio (the fake) took the message, before recording it.
"""

from __future__ import annotations

import os

from crisis import create_app
from crisis.core.db import db
from crisis.messaging.gateway import TwilioGateway
from crisis.messaging.sender import Pacer, SenderSettings, run_sender_sweep


class DyingGateway(TwilioGateway):
    def send(self, request):
        if os.environ["DIE"] == "before_send":
            os._exit(9)
        super().send(request)
        os._exit(9)


def main() -> None:
    app = create_app()
    gateway = DyingGateway(os.environ["FAKE_TWILIO_SID"], os.environ["FAKE_TWILIO_TOKEN"],
                           os.environ["FAKE_TWILIO_FROM"], api_base=os.environ["FAKE_TWILIO_BASE"])
    with app.app_context():
        run_sender_sweep(db.session, gateway, SenderSettings(rate_per_second=0, workers=1), pacer=Pacer(0))
    raise SystemExit("the sender was supposed to die")


if __name__ == "__main__":
    main()
