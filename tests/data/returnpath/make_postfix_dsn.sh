#!/bin/sh
# Makes the installed Postfix bounce a message and saves the DSN it sends (postfix-dsn.eml).
#
# A private Postfix instance (its own config, queue and data directories under a temporary
# folder, smtpd on 127.0.0.1:PORT) relays everything to a small receiver (receiver.py) that
# refuses the recipient with "550 5.1.1" and accepts the null-sender DSN Postfix then sends, which
# it writes out. Needs root (Postfix's master) and the postfix user. Run by hand; the output is
# checked in and read by tests/unit/returnpath/.
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${1:-$HERE/postfix-dsn.eml}
WORK=$(mktemp -d /tmp/outpost-postfix-XXXXXX)
PORT_IN=${PORT_IN:-10625}
PORT_RX=${PORT_RX:-10626}
# Postfix accepts another config directory only when the default main.cf allows it; without a
# system main.cf one is made for the run and removed after.
MADE_MAIN_CF=
cleanup() {
  postfix -c "$WORK/etc" stop >/dev/null 2>&1 || true
  [ -n "$MADE_MAIN_CF" ] && rm -f /etc/postfix/main.cf
  [ -n "${RX_PID:-}" ] && kill "$RX_PID" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
chmod 755 "$WORK"
if [ ! -e /etc/postfix/main.cf ]; then
  echo "alternate_config_directories = $WORK/etc" >/etc/postfix/main.cf
  MADE_MAIN_CF=yes
fi
mkdir -p "$WORK/etc" "$WORK/spool" "$WORK/data"
chown postfix "$WORK/data"
cp /etc/postfix/master.cf "$WORK/etc/master.cf"
sed -i "s/^smtp      inet/#smtp      inet/" "$WORK/etc/master.cf"
echo "127.0.0.1:$PORT_IN inet n - n - - smtpd" >>"$WORK/etc/master.cf"
cat >"$WORK/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $WORK/spool
data_directory = $WORK/data
myhostname = mx.sender.example
mydomain = sender.example
mydestination =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:$PORT_RX
smtp_tls_security_level = none
alias_maps =
alias_database =
CONF
python3 "$HERE/receiver.py" "$PORT_RX" "$OUT" &
RX_PID=$!
postfix -c "$WORK/etc" check
postfix -c "$WORK/etc" start
python3 - "$PORT_IN" <<'PY'
import smtplib, sys, time
msg = (
    "From: News <news@sender.example>\r\n"
    "To: ann@receiver.example\r\n"
    "Subject: November news\r\n"
    "Message-ID: <nov-news-0001@sender.example>\r\n"
    "X-Job: nov-news\r\n"
    "\r\n"
    "Hello Ann.\r\n"
)
for _ in range(50):
    try:
        s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
        break
    except OSError:
        time.sleep(0.2)
s.ehlo("app.sender.example")
s.mail("bounces+ann=receiver.example@bounce.sender.example", ["ENVID=nov-news-0001"])
s.rcpt("ann@receiver.example", ["NOTIFY=FAILURE", "ORCPT=rfc822;ann@receiver.example"])
s.data(msg)
s.quit()
PY
# The receiver exits once it has the DSN.
wait "$RX_PID"
RX_PID=
echo "wrote $OUT"
