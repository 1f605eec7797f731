"""The SMTP side of watchfloor's mail tests, for aiosmtpd.

Run by smtp_serve.py, which binds the port; the handler takes the Maildir path.

Messages are kept in a Maildir, as aiosmtpd's Mailbox handler keeps them (each with
X-MailFrom and X-RcptTo headers). Recipients choose the server's answer by their local part:
"tempfail..." gets a 451 (try again later), "reject..." a 550 (never). Each EHLO is counted in
MAILDIR/../sessions, so tests can tell how many connections a batch used.
"""

import os

from aiosmtpd.handlers import Mailbox


class Handler(Mailbox):
    def __init__(self, mail_dir):
        super().__init__(mail_dir)
        self.sessions_path = os.path.join(os.path.dirname(os.path.abspath(mail_dir)), "sessions")
        self.sessions = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        self.sessions += 1
        with open(self.sessions_path, "w") as counter:
            counter.write(str(self.sessions))
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("tempfail"):
            return "451 4.3.0 Mailbox busy, try again later"
        if local.startswith("reject"):
            return "550 5.1.1 No such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"
