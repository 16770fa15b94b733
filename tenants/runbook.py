"""The tenant deletion runbook of the ClearML docs page *Deleting Tenants from ClearML*, filled
in with one tenant's id and name.

There is no API to delete a company: an operator runs these commands inside the apiserver and
fileserver containers. Values are shell-quoted so a name with spaces or quotes is passed intact.
"""

import re
import shlex
from dataclasses import dataclass, field

MONGO_JOB = "jobs.management.delete_company_data_from_mongo"
ES_JOB = "jobs.management.cleanup_deleted_companies"
PYTHONPATH = "PYTHONPATH=../trains-server-repo"
# The id ends up in `rm -rf <fileserver>/<id>`: only a plain identifier (ClearML's ids are hex).
SAFE_COMPANY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")


class UnsafeCompanyId(ValueError):
    """The company id is not a plain identifier, so it must not be put into shell commands."""

    def __init__(self, company_id: str):
        super().__init__(
            f"The company id '{company_id}' cannot be put into shell commands safely (a ClearML "
            "company id is letters, digits, '-' and '_'); check it on the server and delete this "
            "company by hand following the ClearML docs page Deleting Tenants from ClearML."
        )


def check_company_id(company_id: str) -> str:
    if not isinstance(company_id, str) or not SAFE_COMPANY_ID.match(company_id):
        raise UnsafeCompanyId(str(company_id))
    return company_id


@dataclass
class RunbookStep:
    title: str
    commands: str
    note: str = ""


@dataclass
class Runbook:
    title: str
    steps: list[RunbookStep] = field(default_factory=list)

    def script(self) -> str:
        return "\n\n".join(f"# {s.title}\n{s.commands}" for s in self.steps)


def _double_quoted(text: str) -> str:
    """A shell word in double quotes (reads better inside the single-quoted `bash -c '…'`)."""
    for ch in ("\\", '"', "$", "`"):
        text = text.replace(ch, "\\" + ch)
    return f'"{text}"'


def _mongo(company_id: str, name: str) -> str:
    return (
        f"{PYTHONPATH} python3 -m {MONGO_JOB} --id {shlex.quote(company_id)} "
        f"--name {_double_quoted(name)} --delete-user"
    )


def _es(company_id: str) -> str:
    return f"{PYTHONPATH} python3 -m {ES_JOB} --ids {shlex.quote(company_id)} --delete-company"


def docker_compose(company_id: str, name: str) -> Runbook:
    cid = shlex.quote(check_company_id(company_id))
    return Runbook(
        "docker-compose",
        [
            RunbookStep(
                "1. Enter the apiserver container",
                "sudo docker exec -it clearml-apiserver /bin/bash",
            ),
            RunbookStep(
                "2. Set the id and the name of the tenant to delete",
                f"tenant_to_delete={cid}\ncompany_name_to_delete={shlex.quote(name)}",
            ),
            RunbookStep(
                "3. Delete the company's data from MongoDB",
                f"{PYTHONPATH} python3 \\\n  -m {MONGO_JOB} \\\n"
                '  --id "${tenant_to_delete:?}" \\\n'
                '  --name "${company_name_to_delete:?}" \\\n  --delete-user',
                "This also deletes the tenant's admin users. Remove --delete-user to keep them.",
            ),
            RunbookStep(
                "4. Delete the company's data from ElasticSearch",
                f"{PYTHONPATH} python3 \\\n  -m {ES_JOB} \\\n"
                '  --ids "${tenant_to_delete:?}" --delete-company',
            ),
            RunbookStep("5. Leave the apiserver container", "exit"),
            RunbookStep(
                "6. Delete the tenant's files from the fileserver (from the host)",
                'rm -rf "${CLEARML_ROOT:?set CLEARML_ROOT to the ClearML data directory, e.g. '
                f'/opt/clearml}}/data/fileserver/"{cid}',
                "Or inside the container: sudo docker exec -it clearml-fileserver /bin/bash, then "
                f"rm -rf /mnt/fileserver/{cid}. External storage (S3, GCS, MinIO) is "
                "cleaned by hand.",
            ),
        ],
    )


def kubernetes(company_id: str, name: str) -> Runbook:
    def in_pod(pod: str, container: str, command: str) -> str:
        return (
            f'kubectl -n "${{NAMESPACE:?}}" exec -it "{pod}" -c {container} -- '
            f"/bin/bash -c {shlex.quote(command)}"
        )

    check_company_id(company_id)
    return Runbook(
        "Kubernetes",
        [
            RunbookStep(
                "1. Set the namespace and the pod names of your installation",
                "NAMESPACE=<namespace>\n"
                'APISERVER_POD=$(kubectl -n "${NAMESPACE:?}" get pods -o name | grep apiserver '
                "| head -1)\n"
                'FILESERVER_POD=$(kubectl -n "${NAMESPACE:?}" get pods -o name | grep fileserver '
                "| head -1)",
                "Check that both variables name the right pods before going on.",
            ),
            RunbookStep(
                "2. Delete the company's data from MongoDB (also deletes its admin users)",
                in_pod("${APISERVER_POD:?}", "clearml-apiserver", _mongo(company_id, name)),
            ),
            RunbookStep(
                "3. Delete the company's data from ElasticSearch",
                in_pod("${APISERVER_POD:?}", "clearml-apiserver", _es(company_id)),
            ),
            RunbookStep(
                "4. Delete the tenant's files from the fileserver",
                in_pod(
                    "${FILESERVER_POD:?}",
                    "clearml-fileserver",
                    f"rm -rf /mnt/fileserver/{shlex.quote(company_id)}",
                ),
                "External storage (S3, GCS, MinIO) is cleaned by hand.",
            ),
        ],
    )


def runbooks(company_id: str, name: str) -> list[Runbook]:
    """Both runbooks; raises UnsafeCompanyId for an id that is not a plain identifier."""
    return [docker_compose(company_id, name), kubernetes(company_id, name)]
