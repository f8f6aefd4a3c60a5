"""Pickup directories (docs/config.md, "pickup") against the real daemon: files renamed into DIR
(and files already there at start) are delivered to a real receiver with their x-sender /
x-receiver envelope and the 127.0.0.1 <source> rules, `r` records say srcType pickup, an unusable
file ends in BADDIR with a log line and a counter, dotfiles are left alone, a refusing spool leaves
files in place, and kill -9 while files are being taken loses none of them."""
import os

from harness.delivery import maildir_messages, reroute_star_to, wait_records
from harness.isp_sim import IspSim
from harness.mgmt import MgmtClient
from harness.outpostd import OutpostD, wait_for


def message(i, rcpts=("you@example.net",), job="", sender="news@sender.example", lf="\n"):
    envelope = f"x-sender: <{sender}>{lf}" + "".join(f"X-Receiver: <{r}>{lf}" for r in rcpts)
    job_line = f"X-Job: {job}{lf}" if job else ""
    return (envelope + f"From: News <{sender}>{lf}To: {rcpts[0]}{lf}Subject: pickup {i}{lf}"
            f"Message-ID: <pickup-{i}@sender.example>{lf}{job_line}{lf}Hello number {i}.{lf}")


def drop(directory, name, text):
    """Written under a dot name, then renamed in: how a writer makes a file appear complete."""
    tmp = os.path.join(directory, "." + name)
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, os.path.join(directory, name))


def make_mta(tmp_path, route_port=None, extra=""):
    work = tmp_path / "mta"
    pickup, bad = work / "pickup", work / "bad"
    pickup.mkdir(parents=True)
    bad.mkdir()
    route = f"<domain *>\n  route [127.0.0.1]:{route_port}\n</domain>\n" if route_port else ""
    config = (f"pickup {pickup} {bad}\nhttp-mgmt-port 127.0.0.1:0\nhttp-access 127.0.0.1 admin\n"
              f"{route}{extra}")
    return OutpostD(extra_config=config, workdir=str(work)), str(pickup), str(bad)


def counter(mta, name):
    """A counter as /counters.json shows it (published once a second)."""
    metrics = MgmtClient(mta).get("/counters.json")[1]["metrics"]
    return next(m["series"][0]["value"] for m in metrics if m["name"] == name)


def test_files_are_delivered_and_a_bad_file_goes_to_baddir(tmp_path):
    maildir = tmp_path / "maildir"
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        mta, pickup, bad = make_mta(tmp_path, sim.port)
        # Already there at start, CRLF line ends, two recipients.
        drop(pickup, "early.eml", message(1, ("a@example.net", "b@example.org"), lf="\r\n"))
        with open(os.path.join(pickup, ".half-written"), "w") as f:
            f.write("x-sender: <a@b.example>\n")  # a dotfile: never taken
        with mta:
            drop(pickup, "late.eml", message(2, job="spring"))
            drop(pickup, "broken.eml", "x-sender: <news@sender.example>\nSubject: no rcpt\n\nx\n")
            moved = wait_for(lambda: os.listdir(bad), what="the bad file in BADDIR")
            assert moved == ["broken.eml"]
            assert "broken.eml: no x-receiver field" in mta.log_text()
            got = wait_for(lambda: len(maildir_messages(maildir)) >= 3 and maildir_messages(maildir),
                           timeout=30, what="three deliveries")
            assert sorted(m["Subject"] for m in got) == ["pickup 1", "pickup 1", "pickup 2"]
            for m in got:
                assert m["X-Sender"] is None and m["X-Receiver"] is None  # envelope fields removed
                assert "from pickup ([127.0.0.1])" in m["Received"] and "with local" in m["Received"]
                assert m["X-Job"] is None  # process-x-job of <source 127.0.0.1> applied
            r = wait_records(mta, "r", 3)
            assert {x["srcType"] for x in r} == {"pickup"}
            assert sorted((x["rcpt"], x["jobId"]) for x in r) == [
                ("a@example.net", ""), ("b@example.org", ""), ("you@example.net", "spring")]
            d = wait_records(mta, "d", 3)
            assert {x["orig"] for x in d} == {"news@sender.example"}
            # Taken files are gone; the dotfile stays; counters say what happened.
            assert wait_for(lambda: os.listdir(pickup) == [".half-written"], what="DIR emptied")
            wait_for(lambda: counter(mta, "pickup_files_accepted_total") == 2, what="2 taken")
            assert counter(mta, "pickup_files_bad_total") == 1
            assert sim.stats()["totals"]["recipients_accepted"] == 3


def test_a_refusing_spool_leaves_files_in_place(tmp_path):
    mta, pickup, bad = make_mta(tmp_path)
    # Far more free space demanded than the disk has: the spool refuses every commit.
    mta.config_text = mta.config_text.replace("spool-min-free 1M", "spool-min-free 100000G")
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)
    with mta:
        drop(pickup, "wait.eml", message(1))
        wait_for(lambda: counter(mta, "pickup_files_deferred_total") >= 1, what="a deferral")
        assert "wait.eml: left for later" in mta.log_text()
        assert os.listdir(pickup) == ["wait.eml"] and os.listdir(bad) == []
        assert mta.stop() == 0
        assert mta.list_spool()[1]["messages"] == 0


def test_kill9_while_taking_files_loses_none(tmp_path):
    maildir = tmp_path / "maildir"
    count = 60
    with IspSim(tmp_path / "sim", "<domain *> accept </domain>\n", maildir=maildir) as sim:
        mta, pickup, bad = make_mta(tmp_path)  # routes to a refusing port: mail stays queued
        try:
            mta.start()
            for i in range(count):
                drop(pickup, f"m{i:03}.eml", message(i))
            # Some taken, some not yet: kill -9 in the middle.
            wait_for(lambda: len(os.listdir(pickup)) < count - 5, what="some files taken")
            mta.kill9()
            left = len(os.listdir(pickup))
            assert 0 <= left < count
            print(f"kill -9 with {left} of {count} files left in DIR")
            reroute_star_to(mta, sim.port)
            mta.start()
            wait_for(lambda: os.listdir(pickup) == [], timeout=60, what="DIR emptied")

            def all_delivered():
                ids = {m["Message-ID"] for m in maildir_messages(maildir)}
                return len(ids) == count and ids
            ids = wait_for(all_delivered, timeout=90, what=f"{count} distinct messages delivered")
            assert ids == {f"<pickup-{i}@sender.example>" for i in range(count)}
            assert os.listdir(bad) == []
            # A duplicate is possible (a crash between commit and delete), never a loss.
            assert count <= len(maildir_messages(maildir)) <= count + 1
        finally:
            mta.close()
