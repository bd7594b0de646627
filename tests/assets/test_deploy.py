"""deploy/: the distributed instance's run queue loads into a real DagsterInstance (as the project's own
dagster.yaml does in test_definitions.py); the PostgreSQL storage, compose file and Helm values, which
need dagster-postgres, containers or a cluster, are checked for their structure."""

import re
from pathlib import Path

import dagster as dg
import yaml
from dagster._core.launcher import DefaultRunLauncher
from dagster._core.run_coordinator import QueuedRunCoordinator

from billrecon.partner_runs import PARALLEL_VARIABLE
from pipelines.lib.partners import FILE_VARIABLE, PARTNER_VARIABLE
from pipelines.partitions import PARTNER_TAG
from pipelines.settings import SETTINGS, WORKING_WAREHOUSE

DEPLOY = Path(__file__).parents[2] / "deploy"
PER_PARTNER = {"key": PARTNER_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def deploy_config() -> dict:
    return yaml.safe_load((DEPLOY / "dagster.yaml").read_text(encoding="utf-8"))


def test_the_run_queue_and_launcher_load_into_an_instance(tmp_path):
    config = deploy_config()
    del config["storage"]  # PostgreSQL storage needs dagster-postgres: checked below
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")

    instance = dg.DagsterInstance.from_config(str(tmp_path))
    try:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert isinstance(instance.run_launcher, DefaultRunLauncher)
        queue = instance.run_coordinator.get_run_queue_config()
        assert queue.max_concurrent_runs == 6
        # one run per partner account (its working file has one writer), accounts side by side
        assert queue.tag_concurrency_limits == [PER_PARTNER]
        # a stuck run is failed after its job's dagster/max_runtime (pipelines/jobs.py)
        assert instance.run_monitoring_enabled and instance.run_monitoring_poll_interval_seconds == 120
    finally:
        instance.dispose()


def test_the_storage_is_postgres_with_every_setting_from_the_environment():
    database = deploy_config()["storage"]["postgres"]["postgres_db"]
    assert {key: value for key, value in database.items() if key != "port"} == {
        "hostname": {"env": "DAGSTER_POSTGRES_HOST"}, "username": {"env": "DAGSTER_POSTGRES_USER"},
        "password": {"env": "DAGSTER_POSTGRES_PASSWORD"}, "db_name": {"env": "DAGSTER_POSTGRES_DB"}}


def test_compose_runs_webserver_daemon_code_location_and_postgres_on_that_instance():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) == {"postgres", "code", "webserver", "daemon"}
    assert services["code"]["command"][:2] == ["dagster", "code-server"]
    assert "pipelines.definitions" in services["code"]["command"]
    assert services["daemon"]["command"][:2] == ["dagster-daemon", "run"]
    assert services["webserver"]["ports"] == ["127.0.0.1:3000:3000"]
    for name in ("code", "webserver", "daemon"):
        assert services[name]["environment"]["DAGSTER_POSTGRES_HOST"] == "postgres"
    workspace = yaml.safe_load((DEPLOY / "workspace.yaml").read_text(encoding="utf-8"))
    assert workspace["load_from"] == [{"grpc_server": {"host": "code", "port": 4000, "location_name": "billrecon"}}]
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "cp deploy/dagster.yaml deploy/workspace.yaml $DAGSTER_HOME/" in dockerfile


def test_the_helm_values_launch_each_run_as_a_k8s_job_with_the_same_queue_limits():
    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text(encoding="utf-8"))
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert queue["maxConcurrentRuns"] == deploy_config()["run_coordinator"]["config"]["max_concurrent_runs"]
    assert queue["tagConcurrencyLimits"] == deploy_config()["run_coordinator"]["config"]["tag_concurrency_limits"]
    [code_location] = values["dagster-user-deployments"]["deployments"]
    assert code_location["dagsterApiGrpcArgs"] == ["-m", "pipelines.definitions"]


def deploy_variables(text: str) -> set[str]:
    """The BILLRECON_* names in `text`; a family such as `BILLRECON_LAKE_S3_*` is no name."""
    return set(re.findall(r"\bBILLRECON_[A-Z0-9_]+(?![\w*])", text))


def test_the_deploy_files_name_only_settings_the_code_reads():
    """A renamed setting would otherwise stay behind in a file no test starts."""
    read = {variable for fields in SETTINGS.values() for variable in fields.values()}
    read |= {WORKING_WAREHOUSE, FILE_VARIABLE, PARTNER_VARIABLE, PARALLEL_VARIABLE}
    named = set()
    for name in (".env.example", "docker-compose.yml", "k8s/values.yaml", "README.md"):
        named |= deploy_variables((DEPLOY / name).read_text(encoding="utf-8"))
    assert named - read == set()
    assert {FILE_VARIABLE, WORKING_WAREHOUSE, "BILLRECON_WAREHOUSE", "BILLRECON_LAKE_DATA_PATH"} <= named


def test_partners_toml_and_the_working_files_reach_the_code_location_and_every_run():
    """The working files and reports on the persistent volume, partners.toml in the folder mounted for it."""
    code = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["code"]
    assert code["volumes"] == ["billrecon-data:/data", "./partners:/etc/billrecon:ro"]
    assert code["environment"][WORKING_WAREHOUSE].startswith("/data/")
    assert code["environment"]["BILLRECON_REPORTS_DIR"].startswith("/data/")
    assert "BILLRECON_PARTNERS_FILE=/etc/billrecon/partners.toml" in (DEPLOY / ".env.example").read_text("utf-8")

    values = yaml.safe_load((DEPLOY / "k8s" / "values.yaml").read_text(encoding="utf-8"))
    [code_location] = values["dagster-user-deployments"]["deployments"]
    assert code_location["includeConfigInLaunchedRuns"] == {"enabled": True}  # runs get the same volumes
    env = {item["name"]: item["value"] for item in code_location["env"]}
    mounts = {mount["name"]: mount["mountPath"] for mount in code_location["volumeMounts"]}
    claims = {volume["name"] for volume in code_location["volumes"] if "persistentVolumeClaim" in volume}
    assert env[FILE_VARIABLE] == mounts["partners"] + "/partners.toml"
    assert [name for name in mounts if env[WORKING_WAREHOUSE].startswith(mounts[name] + "/")] == list(claims)
    assert env["BILLRECON_REPORTS_DIR"].startswith(mounts[next(iter(claims))] + "/")
