// The web console served at / on the management port: one self-contained HTML page (inline CSS
// and JavaScript, no external assets) that polls /status.json, /queues.json, /vmtas.json and
// /domains.json every 2 seconds and shows the status, top queues with their modes and last
// errors, per-vmta traffic, connections and rates. Text from the daemon (queue names, SMTP
// replies) is inserted with textContent, never as HTML.
//
// Thread-safety: returns a constant.
#pragma once

namespace outpost::mgmt {

const char* ConsoleHtml();

}  // namespace outpost::mgmt
