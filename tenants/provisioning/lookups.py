"""Read calls that tell whether a changing call whose answer was lost took effect.

Only `*.get*` calls here: the client retries them, and they change nothing.
"""

from console.apiserver import ApiClient


def fold(text: str) -> str:
    return (text or "").strip().casefold()


def get_companies(client: ApiClient) -> list[dict]:
    """All companies (system.get_companies, multi_tenant_k8s.md "To view existing tenants")."""
    data = client.call("system.get_companies", {})
    companies = data.get("companies") or []
    return [c for c in companies if isinstance(c, dict) and c.get("id")]


def find_company_by_name(client: ApiClient, name: str) -> dict | None:
    wanted = fold(name)
    for company in get_companies(client):
        if fold(str(company.get("name", ""))) == wanted:
            return company
    return None


def find_company_by_id(client: ApiClient, company_id: str) -> dict | None:
    for company in get_companies(client):
        if company.get("id") == company_id:
            return company
    return None


def find_user_by_email(client: ApiClient, email: str, company_id: str = "") -> dict | None:
    """The user with this email (users.get_all), in the company when one is given."""
    body: dict = {"email": [email]}
    if company_id:
        body["company"] = [company_id]
    data = client.call("users.get_all", body)
    wanted = fold(email)
    for user in data.get("users") or []:
        if isinstance(user, dict) and fold(str(user.get("email", ""))) == wanted:
            if company_id and user.get("company") not in ("", None, company_id):
                continue
            return user
    return None


USERS_PAGE = 500
MAX_USER_PAGES = 40  # 20,000 users of one company


def company_users(client: ApiClient, company_id: str) -> list[dict]:
    """The company's users (users.get_all), a page of USERS_PAGE at a time, in id order. A
    server that ignores paging answers the whole list at once: a page with nothing new ends it."""
    users: list[dict] = []
    seen: set[str] = set()
    for page in range(MAX_USER_PAGES):
        data = client.call(
            "users.get_all",
            {"company": [company_id], "page": page, "page_size": USERS_PAGE, "order_by": ["id"]},
        )
        batch = [u for u in data.get("users") or [] if isinstance(u, dict)]
        new = [u for u in batch if str(u.get("id")) not in seen]
        users += new
        seen.update(str(u.get("id")) for u in new)
        if len(batch) < USERS_PAGE or not new:
            break
    return users


def list_access_keys(client: ApiClient, user_id: str) -> list[str]:
    """The access keys of a user (auth.get_credentials, impersonating the user)."""
    data = client.call("auth.get_credentials", {}, impersonate_as=user_id)
    keys = []
    for item in data.get("credentials") or []:
        if isinstance(item, dict) and item.get("access_key"):
            keys.append(str(item["access_key"]))
    return keys


def login_settings(client: ApiClient, user_id: str) -> dict:
    """The tenant's login routing (login.get_settings, acting as one of its users)."""
    return client.call("login.get_settings", {}, act_as=user_id)
