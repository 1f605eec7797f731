"""Runs the mail tests' SMTP server (aiosmtpd, with smtp_handler.Handler) on a socket it binds
itself, and prints the port it got as its first line of output.

Run as: python3 smtp_serve.py PORT MAILDIR [CERT KEY]

PORT 0 lets the system choose, so no test ever picks a port and releases it for the server to
take later (another test's server could take it in between). A given PORT is for restarting a
stopped server on the address a test already handed out; CERT and KEY offer STARTTLS and
require it before mail, as aiosmtpd's command line does.
"""

import asyncio
import socket
import ssl
import sys
from functools import partial

from aiosmtpd.smtp import SMTP

from smtp_handler import Handler


def main():
    port, mail_dir = int(sys.argv[1]), sys.argv[2]
    tls_context = None
    if len(sys.argv) == 5:
        tls_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls_context.check_hostname = False
        tls_context.load_cert_chain(sys.argv[3], sys.argv[4])
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    factory = partial(
        SMTP,
        Handler(mail_dir),
        tls_context=tls_context,
        require_starttls=tls_context is not None,
    )
    loop = asyncio.new_event_loop()
    loop.run_until_complete(loop.create_server(factory, sock=sock))
    # Listening already: the port line is the readiness signal.
    print(sock.getsockname()[1], flush=True)
    loop.run_forever()


if __name__ == "__main__":
    main()
