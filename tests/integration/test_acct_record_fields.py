"""record-fields in <acct-file>: the accounting file holds the columns the configuration names.

A real outpostd delivers to the ISP simulator (one domain accepts, one refuses with 550 5.1.1);
its accounting file must have the header `type` + the union of the record types' columns, each
record filling only its own type's; after a restart with other columns the old file is moved
aside whole and the new one starts with the new header.
"""
import csv
import glob
import os

from harness.delivery import inject, wait_records
from harness.isp_sim import IspSim
from harness.outpostd import OutpostD

SIM = ('<domain ok.test>\n  accept\n</domain>\n'
       '<domain gone.test>\n  bounce-ratio 1.0 "550 5.1.1 no such user"\n</domain>\n')


def with_columns(mta, lines):
    """Replaces the harness's `records` line of the accounting file with `lines`."""
    old = "  records d,b,t,tq,r\n"
    assert old in mta.config_text
    mta.config_text = mta.config_text.replace(old, lines)
    with open(mta.config_path, "w") as f:
        f.write(mta.config_text)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.reader(f))


def test_record_fields_choose_the_columns_and_a_change_rotates(tmp_path):
    with IspSim(tmp_path / "sim", SIM) as sim:
        route = f"<domain *>\n  route [127.0.0.1]:{sim.port}\n</domain>\n"
        mta = OutpostD(extra_config=route)
        try:
            with_columns(mta, "  records d\n  records b\n  record-fields d rcpt,dsnStatus,jobId\n"
                              "  record-fields b rcpt,bounceCat\n")
            mta.start()
            inject(mta, "", [["ann@ok.test"], ["bob@gone.test"]],  # <>: no DSN to record
                   headers="X-Job: spring\r\n")
            wait_records(mta, "d", 1)
            wait_records(mta, "b", 1)
            got = rows(mta.acct)
            assert got[0] == ["type", "rcpt", "dsnStatus", "jobId", "bounceCat"]
            by_type = {r[0]: r for r in got[1:]}
            assert by_type["d"][1] == "ann@ok.test" and by_type["d"][2].startswith("2.")
            assert by_type["d"][3] == "spring" and by_type["d"][4] == ""
            assert by_type["b"][1:] == ["bob@gone.test", "", "", "bad-mailbox"]
            assert mta.stop() == 0

            mta.config_text = mta.config_text.replace(
                "  records d\n  records b\n  record-fields d rcpt,dsnStatus,jobId\n"
                "  record-fields b rcpt,bounceCat\n", "  records d\n  record-fields d rcpt\n")
            with open(mta.config_path, "w") as f:
                f.write(mta.config_text)
            mta.start()
            inject(mta, "", [["cy@ok.test"]], mid_prefix="second")
            wait_records(mta, "d", 1)
            assert rows(mta.acct) == [["type", "rcpt"], ["d", "cy@ok.test"]]
            stem = os.path.splitext(mta.acct)[0]
            moved = glob.glob(stem + "-*.csv")
            assert len(moved) == 1, moved
            assert rows(moved[0])[0] == ["type", "rcpt", "dsnStatus", "jobId", "bounceCat"]
            assert len(rows(moved[0])) == 3, "the old file kept its records, whole"
        finally:
            mta.close()
