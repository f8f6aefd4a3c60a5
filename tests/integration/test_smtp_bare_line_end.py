"""`bare-line-end reject|normalize` per <source>, with curl uploading a Unix text file (LF line
ends; curl sends them as they are and dot-stuffs only after CRLF).

| client address | <source> setting          | expected                                           |
|----------------|---------------------------|----------------------------------------------------|
| 127.0.0.1      | bare-line-end normalize   | accepted; the receiver gets every line with CRLF,  |
|                |                           | the ".dot" line and the "." line intact            |
| 127.0.0.2      | (default: reject)         | 550 5.6.11, nothing queued                         |

Waits are on the simulator's maildir with deadlines (no sleeps).
"""
import subprocess

from harness.delivery import records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD, wait_for

SOURCES = """
<source 127.0.0.1>
  always-allow-relaying yes
  bare-line-end normalize
</source>
<source 127.0.0.2>
  always-allow-relaying yes
</source>
<source 0/0>
  always-allow-relaying no
</source>
"""

UNIX_TEXT = ("From: script@sender.test\nTo: u@sim.test\nSubject: unix line ends\n"
             "Message-ID: <bare-lf@sender.test>\n\nline one\n.dot at line start\n.\nlast line\n")


def _curl(mta, source, path):
    return subprocess.run(
        ["curl", "-sS", "-v", "--interface", source, f"smtp://{mta.host}:{mta.port}",
         "--mail-from", "script@sender.test", "--mail-rcpt", "u@sim.test",
         "--upload-file", str(path)],
        capture_output=True, text=True, timeout=60)


def test_bare_lf_normalized_for_one_source_refused_for_another(tmp_path):
    path = tmp_path / "message.txt"
    path.write_bytes(UNIX_TEXT.encode())
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        config = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        with OutpostD(extra_config=config, sources=SOURCES) as mta:
            refused = _curl(mta, "127.0.0.2", path)
            assert refused.returncode != 0
            assert "550 5.6.11" in refused.stderr, refused.stderr

            accepted = _curl(mta, "127.0.0.1", path)
            assert accepted.returncode == 0, accepted.stderr
            new = maildir / "new"
            files = wait_for(lambda: list(new.iterdir()) if new.is_dir() else None, 30,
                             "the message at the simulator")
            assert len(files) == 1
            data = files[0].read_bytes()
            body = UNIX_TEXT.replace("\n", "\r\n").encode()
            # curl ends the upload with its own CRLF.CRLF after the file's last LF: one more
            # (empty) line.
            assert data.endswith(body + b"\r\n"), data
            assert b"\n" not in data.replace(b"\r\n", b""), "a bare LF reached the receiver"
            assert [r["rcpt"] for r in records(mta, "d")] == ["u@sim.test"]
            assert sim.stats()["totals"]["messages"] == 1
