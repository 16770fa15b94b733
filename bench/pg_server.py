"""The PostgreSQL server a bench's --database-url names: connection parameters for its
`postgres` database, where the benches create and drop their scratch databases."""


def server_params(url: str) -> dict:
    """psycopg.connect() keywords for the `postgres` database of the server `url` names."""
    import environ

    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("--database-url must name a PostgreSQL server (postgres://...)")
    config = environ.Env.db_url_config(url)
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "dbname": "postgres",
    }
    return {k: v for k, v in params.items() if v}


def server_sql(url: str, statement: str) -> None:
    """Run one statement (CREATE or DROP DATABASE) outside a transaction."""
    import psycopg

    with psycopg.connect(**server_params(url), autocommit=True) as conn:
        conn.execute(statement)
