"""What a run compares to tell that the file source has nothing new (pipelines/lib/rerun.py): every
object's key, identity and size, read from the listing and, for an inbox, from the file system alone."""

import os
import time

from pipelines.resources import ObjectStoreResource


def _inbox(tmp_path):
    inbox = tmp_path / "inbox"
    for key, text in (("acme/agreements/customer_discounts.csv", "rate\n0.05\n"),
                      ("acme2/agreements/customer_discounts.csv", "rate\n0.07\n")):
        (inbox / key).parent.mkdir(parents=True, exist_ok=True)
        (inbox / key).write_text(text)
    return inbox


def test_an_inbox_file_rewritten_to_the_same_size_and_modification_time_has_another_identity(tmp_path):
    inbox = _inbox(tmp_path)
    store = ObjectStoreResource(inbox_dir=str(inbox)).store()
    before = store.identities("")
    assert [(key, size) for key, _, size in before] == [
        ("acme/agreements/customer_discounts.csv", 10), ("acme2/agreements/customer_discounts.csv", 10)]
    assert store.identities("") == before
    path = inbox / "acme/agreements/customer_discounts.csv"
    stat = path.stat()
    time.sleep(0.05)  # file times move with the kernel's clock tick, a few milliseconds
    path.write_text("rate\n0.10\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # the old modification time put back
    after = store.identities("")
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    assert after[0][1] != before[0][1]  # the change time, which no program sets back, moved
    assert after[1] == before[1]


def test_a_prefixed_store_gives_the_identities_of_its_folder_under_the_usual_keys(tmp_path):
    inbox = _inbox(tmp_path)
    whole = ObjectStoreResource(inbox_dir=str(inbox)).store().identities("")
    acme = ObjectStoreResource(inbox_dir=str(inbox), prefix="acme").store().identities("")
    assert acme == [("agreements/customer_discounts.csv", whole[0][1], 10)]
