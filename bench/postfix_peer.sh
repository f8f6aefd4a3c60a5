#!/usr/bin/env bash
# Starts or stops a throwaway Postfix instance used as the benchmark peer: its own config and
# queue directories under $1, smtpd on 127.0.0.1:$2, mail accepted from loopback into its queue.
# Mode "hold" (default) keeps accepted mail in the queue (an injection benchmark measures
# smtpd + cleanup + queue writes only); mode "relay:HOST:PORT" relays everything to HOST:PORT.
# Usage: postfix_peer.sh start DIR PORT [hold|relay:HOST:PORT] | stop DIR
set -euo pipefail
action=$1
dir=$(realpath -m "$2")
conf="$dir/etc"
if [ "$action" = stop ]; then
  postfix -c "$conf" stop >/dev/null 2>&1 || true
  exit 0
fi
port=$3
mode=${4:-hold}
mkdir -p "$conf" "$dir/queue" "$dir/data"
chown postfix:postfix "$dir/data"
cp /etc/postfix/master.cf "$conf/master.cf"
# Listen on the benchmark port instead of 25.
sed -i "s/^smtp      inet  n       -       y       -       -       smtpd/127.0.0.1:$port inet n - n - - smtpd/" "$conf/master.cf"
grep -q "^127.0.0.1:$port" "$conf/master.cf" || { echo "postfix_peer: cannot set port" >&2; exit 1; }
relay_lines="defer_transports = smtp"
if [[ "$mode" == relay:* ]]; then
  target=${mode#relay:}
  relay_lines="relayhost = [${target%:*}]:${target##*:}
smtp_destination_concurrency_limit = 100
default_destination_concurrency_limit = 100
smtp_connection_cache_on_demand = yes"
fi
cat > "$conf/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $dir/queue
data_directory = $dir/data
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix-peer.localhost
mydomain = localhost
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_recipient_restrictions = permit_mynetworks, reject
smtpd_relay_restrictions = permit_mynetworks, reject
default_process_limit = 200
smtpd_client_connection_count_limit = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
in_flow_delay = 0
maillog_file_prefixes = $dir
maillog_file = $dir/maillog
alias_maps =
alias_database =
local_recipient_maps =
$relay_lines
CF
postfix -c "$conf" check >/dev/null 2>&1 || true
script -qc "postfix -c $conf start" /dev/null >"$dir/start.log" 2>&1 || { cat "$dir/start.log" >&2; exit 1; }
for _ in $(seq 1 100); do
  ss -ltn "sport = :$port" | grep -q LISTEN && exit 0
  sleep 0.1
done
echo "postfix_peer: smtpd did not start on $port (see $dir/maillog)" >&2
exit 1
