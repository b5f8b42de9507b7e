"""A small SMTP server on 127.0.0.1 (random port) that keeps the messages it receives.

Recipients listed in ``reject`` get ``550 5.1.1`` (a hard bounce), as a real
mail server answers for an unknown mailbox. Used by the demo command so its
invoices are really emailed over SMTP without leaving the machine.

Rules and their source:

* the dialogue (220 greeting, EHLO/HELO, MAIL FROM, RCPT TO, DATA ended by a line
  holding one dot, with a leading dot removed from other lines, RSET, QUIT 221) and
  the reply codes 250, 354, 550 (mailbox unavailable) and 554 (transaction failed):
  RFC 5321, "Simple Mail Transfer Protocol", sections 3, 4.1.1, 4.2 and 4.5.2;
* the enhanced status code ``5.1.1`` (bad destination mailbox address): RFC 3463,
  "Enhanced Mail System Status Codes", section 3.2;
* ASSUMED: every other command is accepted with 250, no extension is announced,
  DATA without an accepted recipient answers 554.
"""

import socketserver
import threading
from email import message_from_bytes


class _Handler(socketserver.StreamRequestHandler):
    def reply(self, line):
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        server = self.server.owner
        self.reply("220 fake-smtp ready")
        sender, rcpts = None, []
        while True:
            line = self.rfile.readline()
            if not line:
                return
            command = line.decode(errors="replace").strip()
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.reply("250 fake-smtp")
            elif verb == "MAIL":
                sender, rcpts = command.split(":", 1)[1].strip(" <>"), []
                self.reply("250 OK")
            elif verb == "RCPT":
                rcpt = command.split(":", 1)[1].strip().split(" ")[0].strip("<>")
                if rcpt.lower() in server.reject:
                    self.reply(f"550 5.1.1 <{rcpt}>: mailbox unavailable")
                else:
                    rcpts.append(rcpt)
                    self.reply("250 OK")
            elif verb == "DATA":
                if not rcpts:
                    self.reply("554 no valid recipients")
                    continue
                self.reply("354 end with <CRLF>.<CRLF>")
                lines = []  # joined once: a PDF attachment is thousands of lines
                while True:
                    chunk = self.rfile.readline()
                    if chunk in (b".\r\n", b".\n", b""):
                        break
                    lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                server.messages.append((sender, rcpts, message_from_bytes(b"".join(lines))))
                self.reply("250 OK queued")
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 OK")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 OK")


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FakeSMTP:
    def __init__(self, reject=()):
        self.reject = {r.lower() for r in reject}
        self.messages = []
        self._server = None

    @property
    def port(self):
        return self._server.server_address[1]

    def start(self):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self.port

    def stop(self):
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
