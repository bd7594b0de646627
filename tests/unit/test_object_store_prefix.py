"""An account's folder in a shared bucket or inbox (the `prefix` of partners.toml): everything listed or
read is under it, and the keys a run sees are those of the usual layout."""

from pipelines.resources import ObjectStoreResource


def test_a_prefix_keeps_a_run_to_its_accounts_folder_and_hands_out_the_usual_keys(tmp_path):
    inbox = tmp_path / "inbox"
    for account, text in (("acme", "acme's bill"), ("acme2", "acme2's bill"), ("", "at the root")):
        bill = inbox / account / "customerBill" / "2026-09.zip"
        bill.parent.mkdir(parents=True, exist_ok=True)
        bill.write_text(text)

    for prefix in ("acme/", "acme", "/acme/"):
        store = ObjectStoreResource(inbox_dir=str(inbox), prefix=prefix).store()
        [info] = store.list("customerBill/")  # not acme2/'s, not the root's
        assert info.key == "customerBill/2026-09.zip"
        store.download(info.key, tmp_path / "fetched")
        assert (tmp_path / "fetched").read_text() == "acme's bill"
        assert store.uri == "file://inbox/acme/"
    # without a prefix, the whole folder, as before
    whole = ObjectStoreResource(inbox_dir=str(inbox)).store()
    assert [info.key for info in whole.list("")] == [
        "acme/customerBill/2026-09.zip", "acme2/customerBill/2026-09.zip", "customerBill/2026-09.zip"]
    assert ObjectStoreResource(inbox_dir=str(inbox), prefix="acme").describe() == (
        f"inbox folder {inbox} under acme/")
