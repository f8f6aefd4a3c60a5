"""outpostd --check-config: every error with file and line, non-zero exit; a good file passes."""
import os
import subprocess
import tempfile

from harness.outpostd import OutpostD, binary


def check(text):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.conf")
        with open(path, "w") as f:
            f.write(text)
        run = subprocess.run([binary("outpostd"), "--check-config", path], capture_output=True,
                             text=True, timeout=30)
        return run.returncode, run.stderr.replace(path, "FILE"), run.stdout


def test_good_config_passes():
    d = OutpostD()
    try:
        run = subprocess.run([binary("outpostd"), "--check-config", d.config_path],
                             capture_output=True, text=True, timeout=30)
        assert run.returncode == 0, run.stderr
        assert "OK" in run.stdout
    finally:
        d.close()


def test_every_error_reported_with_file_and_line():
    code, err, _ = check("smtp-listener 127.0.0.1:2525\n"   # 1
                         "spool /tmp/x\n"                     # 2
                         "bogus-directive 1\n"                # 3
                         "<domain gmail.com>\n"               # 4
                         "  max-smtp-out lots\n"              # 5
                         "  retry-after 10q\n"                # 6
                         "</domain>\n"                        # 7
                         "<source 10.0.0.0/33>\n"             # 8
                         "</source>\n"                        # 9
                         "</virtual-mta>\n")                  # 10
    assert code != 0
    for line in ("FILE:3:", "FILE:5:", "FILE:6:", "FILE:8:", "FILE:10:"):
        assert line in err, err


def test_unclosed_section_names_its_line():
    code, err, _ = check("smtp-listener 127.0.0.1:2525\nspool /tmp/x\n<domain a.example>\n"
                         "  max-smtp-out 3\n")
    assert code != 0
    assert "FILE:3:" in err or "FILE:4:" in err, err


def test_daemon_refuses_to_start_with_bad_config():
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bad.conf")
        with open(path, "w") as f:
            f.write("smtp-listener 127.0.0.1:0\nspool x\nmax-smtp-in many\n")
        run = subprocess.run([binary("outpostd"), "--config", path], capture_output=True,
                             text=True, timeout=30)
        assert run.returncode != 0
        assert f"{path}:3:" in run.stderr
