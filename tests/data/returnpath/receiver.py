"""A tiny SMTP receiver for make_postfix_dsn.sh: refuses every recipient of a message with a
sender ("550 5.1.1 ... User unknown"), accepts the null-sender DSN and writes it to a file, then
exits. Usage: receiver.py PORT OUTFILE."""
import socket
import sys


def serve(port, out):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(5)
    listener.settimeout(120)
    while True:
        conn, _ = listener.accept()
        if session(conn.makefile("rwb"), out):
            return


def session(f, out):
    def say(line):
        f.write(line.encode() + b"\r\n")
        f.flush()

    say("220 mx.receiver.example ESMTP")
    null_sender = False
    while True:
        line = f.readline()
        if not line:
            return False
        cmd = line.decode(errors="replace").strip()
        verb = cmd[:4].upper()
        if verb in ("EHLO", "HELO"):
            say("250 mx.receiver.example")
        elif verb == "MAIL":
            null_sender = "<>" in cmd
            say("250 2.1.0 Ok")
        elif verb == "RCPT":
            if null_sender:
                say("250 2.1.5 Ok")
            else:
                say("550 5.1.1 <ann@receiver.example>: Recipient address rejected: "
                    "User unknown in virtual mailbox table")
        elif verb == "DATA":
            say("354 End data with <CR><LF>.<CR><LF>")
            data = []
            while True:
                body = f.readline()
                if body in (b".\r\n", b".\n", b""):
                    break
                data.append(body[1:] if body.startswith(b"..") else body)
            say("250 2.0.0 Ok: queued")
            if null_sender:
                with open(out, "wb") as w:
                    w.write(b"".join(data))
                say("221 2.0.0 Bye")
                return True
        elif verb == "QUIT":
            say("221 2.0.0 Bye")
            return False
        else:
            say("250 Ok")


if __name__ == "__main__":
    serve(int(sys.argv[1]), sys.argv[2])
