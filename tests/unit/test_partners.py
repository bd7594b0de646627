"""Partner accounts as configuration (pipelines/lib/partners.py): partners.toml, or the BILLRECON_* settings
for one account; every mistake refused with one line naming the account and the field."""

from pathlib import Path

import dagster as dg
import pytest

from pipelines.lib.partners import PartnersConfigError, load_partners, partner_account, run_partner_id
from pipelines.resources import BssApiResource, ObjectStoreResource, ReportsResource, WarehouseResource
from pipelines.settings import resources_from_env

TWO_ACCOUNTS = """
[[partner]]
id = "acme-intl"
name = "ACME Cloud (international)"
site = "intl"
currency = "USD"

[partner.files]
bucket = "acme-partner-bills"
prefix = "acme/"
endpoint = "https://obs.ap-southeast-1.myhuaweicloud.com"
access_key_env = "ACME_OBS_ACCESS_KEY"
secret_key_env = "ACME_OBS_SECRET_KEY"

[partner.bss]
endpoint = "https://bss-intl.myhuaweicloud.com"
access_key_env = "ACME_BSS_AK"
secret_key_env = "ACME_BSS_SK"
domain_id = "0a1b2c3d"

[[partner]]
id = "acme-cn"
name = "ACME 云 (中国站)"
site = "cn"
currency = "CNY"

[partner.files]
inbox = "/srv/billrecon/inbox/acme-cn"
"""


def write(tmp_path, text: str) -> dict:
    path = tmp_path / "partners.toml"
    path.write_text(text, encoding="utf-8")
    return {"BILLRECON_PARTNERS_FILE": str(path)}


def problems(tmp_path, text: str) -> list[str]:
    with pytest.raises(PartnersConfigError) as raised:
        load_partners(write(tmp_path, text))
    assert str(raised.value) == "\n".join(raised.value.problems)
    return raised.value.problems


def test_the_file_describes_each_account_and_its_site_decides_sdk_and_header_language(tmp_path):
    intl, cn = load_partners(write(tmp_path, TWO_ACCOUNTS))

    assert (intl.id, intl.name, intl.currency, intl.sdk_package, intl.header_language) == (
        "acme-intl", "ACME Cloud (international)", "USD", "huaweicloudsdkbssintl", "en")
    assert (intl.files.bucket, intl.files.prefix, intl.files.access_key_env) == (
        "acme-partner-bills", "acme/", "ACME_OBS_ACCESS_KEY")
    assert (intl.bss.endpoint, intl.bss.secret_key_env, intl.bss.domain_id) == (
        "https://bss-intl.myhuaweicloud.com", "ACME_BSS_SK", "0a1b2c3d")
    assert (cn.id, cn.name, cn.currency, cn.sdk_package, cn.header_language) == (
        "acme-cn", "ACME 云 (中国站)", "CNY", "huaweicloudsdkbss", "zh")
    assert cn.files.inbox == "/srv/billrecon/inbox/acme-cn" and cn.bss is None


def test_the_definitions_hold_no_key_of_an_account_a_run_reads_them_when_it_starts(tmp_path, monkeypatch):
    settings = write(tmp_path, TWO_ACCOUNTS)
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BILLRECON_PARTNER_ID", raising=False)  # several accounts, none chosen: they load
    monkeypatch.delenv("ACME_BSS_SK", raising=False)  # not needed to load or to build resources

    resources = resources_from_env()

    assert resources["object_store"].partners_file == dg.EnvVar("BILLRECON_PARTNERS_FILE")
    assert (resources["object_store"].secret_key, resources["bss_api"].secret_key) == (None, None)
    monkeypatch.setenv("ACME_OBS_SECRET_KEY", "obs-secret")
    monkeypatch.setenv("ACME_BSS_SK", "bss-secret")
    with dg.build_resources({key: resources[key] for key in ("object_store", "bss_api")}) as built:
        store, api = built.object_store.for_account("acme-intl"), built.bss_api.for_account("acme-intl")
        assert (store.bucket, store.secret_key, api.secret_key, api.domain_id) == (
            "acme-partner-bills", "obs-secret", "bss-secret", "0a1b2c3d")
        cn_store, cn_api = built.object_store.for_account("acme-cn"), built.bss_api.for_account("acme-cn")
        assert (cn_store.inbox_dir, cn_store.secret_key, cn_api.configured) == ("/srv/billrecon/inbox/acme-cn", None,
                                                                                False)


def test_without_the_file_the_billrecon_settings_are_one_account():
    [partner] = load_partners({"BILLRECON_S3_ENDPOINT": "http://127.0.0.1:9000", "BILLRECON_S3_BUCKET": "bills",
                               "BILLRECON_S3_SECRET_KEY": "not-read", "BILLRECON_BSS_ENDPOINT": "https://bss-intl.x"})
    assert (partner.id, partner.site, partner.currency) == ("default", "intl", "USD")
    assert (partner.files.bucket, partner.files.endpoint, partner.files.secret_key_env) == (
        "bills", "http://127.0.0.1:9000", "BILLRECON_S3_SECRET_KEY")
    assert (partner.bss.access_key_env, partner.bss.domain_id_env) == ("BILLRECON_BSS_AK", "BILLRECON_BSS_DOMAIN_ID")
    [inbox] = load_partners({"BILLRECON_INBOX_DIR": "/data/inbox"})
    assert (inbox.files.inbox, inbox.files.bucket, inbox.bss) == ("/data/inbox", None, None)


def test_a_run_is_for_the_named_account_the_files_only_one_or_default(tmp_path):
    assert run_partner_id({}) == "default"
    assert run_partner_id({"BILLRECON_PARTNER_ID": "acme-intl"}) == "acme-intl"
    both = write(tmp_path, TWO_ACCOUNTS)
    assert run_partner_id({**both, "BILLRECON_PARTNER_ID": "acme-cn"}) == "acme-cn"
    only = write(tmp_path, TWO_ACCOUNTS.split("[[partner]]\nid = \"acme-cn\"")[0])
    assert run_partner_id(only) == "acme-intl"


@pytest.mark.parametrize(("settings", "message"), [
    ({"BILLRECON_PARTNER_ID": "ACME intl"}, "BILLRECON_PARTNER_ID='ACME intl' is not an account id: use lowercase "
                                            "letters, digits, - or _ (at most 63, starting with a letter or digit)"),
    ({"BILLRECON_PARTNER_ID": "acme-eu"}, "BILLRECON_PARTNER_ID='acme-eu' is not in {file} (acme-intl, acme-cn): "
                                          "set BILLRECON_PARTNER_ID to the account this run is for"),
    ({}, "2 accounts are in {file} (acme-intl, acme-cn): set BILLRECON_PARTNER_ID to the account this run is for"),
])
def test_a_run_whose_account_is_unclear_is_refused_in_one_line(tmp_path, settings, message):
    environ = {**(write(tmp_path, TWO_ACCOUNTS) if "not an account id" not in message else {}), **settings}
    with pytest.raises(PartnersConfigError) as raised:
        run_partner_id(environ)
    assert str(raised.value) == message.format(file=tmp_path / "partners.toml")


def test_an_unknown_site_is_refused(tmp_path):
    assert problems(tmp_path, TWO_ACCOUNTS.replace('site = "cn"', 'site = "eu"')) == [
        "partners.toml: partner #2 (acme-cn): site 'eu' is unknown: use intl (international) or cn (China)"]


def test_a_duplicate_id_is_refused(tmp_path):
    assert problems(tmp_path, TWO_ACCOUNTS.replace('id = "acme-cn"', 'id = "acme-intl"')) == [
        "partners.toml: partner #2 (acme-intl): duplicate id 'acme-intl', already used by partner #1; every "
        "account needs its own id"]


def test_missing_fields_are_each_named(tmp_path):
    text = TWO_ACCOUNTS.replace('currency = "CNY"\n', "").replace('endpoint = "https://obs.ap-southeast-1.'
                                                                  'myhuaweicloud.com"\n', "")
    assert problems(tmp_path, text) == [
        "partners.toml: partner #1 (acme-intl) files: missing field endpoint (a bucket needs its endpoint and the "
        "names of the variables holding its keys)",
        "partners.toml: partner #2 (acme-cn): missing field currency"]


def test_a_secret_written_inline_is_refused(tmp_path):
    text = TWO_ACCOUNTS.replace('secret_key_env = "ACME_BSS_SK"', 'secret_key = "Zm9vYmFyYmF6"')
    assert problems(tmp_path, text) == [
        "partners.toml: partner #1 (acme-intl) bss: secret_key holds a secret written into the file, which is "
        "refused: put it in an environment variable and name that variable in secret_key_env",
        "partners.toml: partner #1 (acme-intl) bss: missing field secret_key_env"]


def test_a_secret_put_where_a_variable_name_belongs_is_refused(tmp_path):
    text = TWO_ACCOUNTS.replace('access_key_env = "ACME_OBS_ACCESS_KEY"', 'access_key_env = "AKIA-9f8e7d-real-key"')
    assert problems(tmp_path, text) == [
        "partners.toml: partner #1 (acme-intl) files: access_key_env must name an environment variable "
        "(A-Z, 0-9, _), not hold the value itself: put the value in that variable"]


def test_other_mistakes_each_get_their_line(tmp_path):
    text = TWO_ACCOUNTS.replace('id = "acme-cn"', 'id = "ACME CN"').replace('currency = "CNY"', 'currency = "yuan"') \
        .replace('inbox = "/srv/billrecon/inbox/acme-cn"', 'inbox = "/srv/x"\nbukcet = "typo"')
    assert problems(tmp_path, text) == [
        "partners.toml: partner #2 (ACME CN): id 'ACME CN' must be lowercase letters, digits, - or _ (at most 63, "
        "starting with a letter or digit)",
        "partners.toml: partner #2 (ACME CN): currency 'yuan' must be an ISO 4217 code such as USD or CNY",
        "partners.toml: partner #2 (ACME CN) files: unknown field 'bukcet'; known: access_key_env, bucket, endpoint, "
        "inbox, prefix, region, secret_key_env"]


def test_an_unreadable_or_empty_file_is_one_line(tmp_path):
    [broken] = problems(tmp_path, "[[partner]\nid = 1")
    assert broken == (f"{tmp_path / 'partners.toml'}: not valid TOML (Expected ']]' at the end of an array declaration "
                      "(at line 1, column 10)); fix the file")
    assert problems(tmp_path, "# nobody yet\n") == ["partners.toml: no [[partner]] table: describe at least one account"]
    with pytest.raises(PartnersConfigError, match=r"no-such\.toml: no such file \(BILLRECON_PARTNERS_FILE names it\)"):
        load_partners({"BILLRECON_PARTNERS_FILE": str(tmp_path / "no-such.toml")})
    both = TWO_ACCOUNTS.replace('inbox = "/srv/billrecon/inbox/acme-cn"', 'inbox = "/x"\nbucket = "b"\n'
                                'endpoint = "e"\naccess_key_env = "A"\nsecret_key_env = "B"')
    assert problems(tmp_path, both) == ["partners.toml: partner #2 (acme-cn) files: give either bucket or inbox, not both"]


def test_a_run_of_an_account_of_the_file_uses_that_accounts_sources_and_folders(tmp_path):
    both = write(tmp_path, TWO_ACCOUNTS)
    tuning = {"BILLRECON_BSS_TIMEOUT_SECONDS": "7", "BILLRECON_DUCKDB_THREADS": "3"}
    settings = {"partners_file": both["BILLRECON_PARTNERS_FILE"]}
    store = ObjectStoreResource(endpoint_url="http://127.0.0.1:9000", bucket="other-bucket", inbox_dir="/data/inbox",
                                **settings)
    api = BssApiResource(endpoint="https://bss.other", timeout_seconds=7, **settings)
    warehouse = WarehouseResource(path="warehouse/billrecon.duckdb", landing_dir="/data/landing", **settings)
    reports = ReportsResource(out_dir="reports/out", **settings)

    # the account's bucket, folder and keys, not the BILLRECON_* source settings
    intl = store.for_account("acme-intl")
    assert (intl.endpoint_url, intl.bucket, intl.prefix, intl.inbox_dir) == (
        "https://obs.ap-southeast-1.myhuaweicloud.com", "acme-partner-bills", "acme/", None)
    intl_api = api.for_account("acme-intl")
    assert (intl_api.endpoint, intl_api.domain_id, intl_api.timeout_seconds) == (
        "https://bss-intl.myhuaweicloud.com", "0a1b2c3d", 7)  # tuning stays a setting
    cn = store.for_account("acme-cn")
    assert (cn.inbox_dir, cn.endpoint_url, cn.bucket) == ("/srv/billrecon/inbox/acme-cn", None, "billrecon")
    assert api.for_account("acme-cn").configured is False
    # its own working file, landing folder and reports folder
    assert (warehouse.for_account("acme-cn").path, warehouse.for_account("acme-cn").landing_path,
            reports.for_account("acme-cn").out_dir) == (
        "warehouse/acme-cn/billrecon.duckdb", Path("/data/landing/acme-cn"), "reports/out/acme-cn")
    with pytest.raises(dg.Failure, match="'acme-eu' is no longer an account of .*partners.toml: reload the code"):
        store.for_account("acme-eu")
    # without the file, the settings are the sources, as before, for the one account
    alone = resources_from_env({"BILLRECON_INBOX_DIR": "/data/inbox", "BILLRECON_BSS_ENDPOINT": "https://bss.x",
                                **tuning})
    assert (alone["object_store"].inbox_dir, alone["object_store"].prefix) == (dg.EnvVar("BILLRECON_INBOX_DIR"), "")
    assert alone["bss_api"].endpoint == dg.EnvVar("BILLRECON_BSS_ENDPOINT")
    assert alone["object_store"].for_account("default") is alone["object_store"]


def test_an_account_names_the_variables_of_its_keys_and_a_run_sees_which_are_unset(tmp_path):
    intl, cn = load_partners(write(tmp_path, TWO_ACCOUNTS))

    assert intl.unset_variables({"ACME_OBS_ACCESS_KEY": "a", "ACME_BSS_SK": "s"}) == [
        "ACME_OBS_SECRET_KEY", "ACME_BSS_AK"]
    assert cn.unset_variables({}) == []  # an inbox and no BSS API: nothing to set


def test_the_account_a_run_publishes_is_the_files_entry_or_the_settings_account_under_its_id(tmp_path):
    both = write(tmp_path, TWO_ACCOUNTS)
    assert (partner_account("acme-cn", both).name, partner_account("acme-cn", both).currency) == (
        "ACME 云 (中国站)", "CNY")
    alone = partner_account("p1", {"BILLRECON_INBOX_DIR": "/data/inbox"})
    assert (alone.id, alone.name, alone.site, alone.currency) == (
        "p1", "the partner of the BILLRECON_* settings", "intl", "USD")
    with pytest.raises(PartnersConfigError, match=r"^'acme' is not an account of .*partners\.toml$"):
        partner_account("acme", both)
