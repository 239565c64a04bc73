"""`kiln login|logout|whoami`, `kiln token`, and for admins `kiln user|group|namespace|grant`,
`kiln audit` and `kiln export kubeflow-profiles`.

Each is one REST call, to the server KILN_URL names (or the one `kiln login` signed in to
last), or — on the server's own machine, with neither — to this machine's KILN_HOME through
the same API in this process, as its owner. So the rules and checks are the server's, always.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import typer

from kiln.cli.output import console, print_json, print_listing, short_time

if TYPE_CHECKING:
    from kiln.client import Client

token_app = typer.Typer(help="Your personal access tokens (and service accounts').",
                        no_args_is_help=True)
user_app = typer.Typer(help="Accounts on the server (server admins).", no_args_is_help=True)
group_app = typer.Typer(help="Groups of users (server admins).", no_args_is_help=True)
namespace_app = typer.Typer(help="Namespaces' owners and contributors (Kubeflow profiles).",
                            no_args_is_help=True)
grant_app = typer.Typer(help="Share one volume, pipeline or model beyond its namespace.",
                        no_args_is_help=True)
export_app = typer.Typer(help="Write this server's setup in another tool's format.",
                         no_args_is_help=True)

ROLES = ("admin", "edit", "view")


def register(app: typer.Typer) -> None:
    app.command("login")(login)
    app.command("logout")(logout)
    app.command("whoami")(whoami)
    app.command("audit")(audit)
    app.add_typer(token_app, name="token")
    app.add_typer(user_app, name="user")
    app.add_typer(group_app, name="group")
    app.add_typer(namespace_app, name="namespace")
    app.add_typer(grant_app, name="grant")
    app.add_typer(export_app, name="export")


def server() -> Client:
    """The server to talk to: KILN_URL, else the last `kiln login`, else this machine."""
    from kiln.client import Client

    return Client.from_env(or_login=True) or local_client()


def local_client(namespace: str | None = None) -> Client:
    """The REST API of this machine's KILN_HOME, in this process, as its owner (a server
    without --auth): admin commands on the server's own machine go through the same
    routes, rules and checks as over the network."""
    import httpx

    from kiln.client import API, Client
    from kiln.server.app import create_app

    client = Client.__new__(Client)
    client.url = "local"
    headers = {"X-Kiln-Namespace": namespace} if namespace else {}
    client._http = httpx.Client(base_url="http://local" + API, headers=headers,  # noqa: SLF001
                                transport=_InProcess(create_app()), timeout=None)
    return client


class _InProcess(httpx.BaseTransport):
    """httpx's sync client on an ASGI application in this process (httpx ships only an
    async one): each request runs the app to completion in a fresh event loop."""

    def __init__(self, app: Any) -> None:
        self.app = app

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        import anyio

        body = request.read()

        async def send() -> httpx.Response:
            asgi = httpx.ASGITransport(app=self.app, client=("127.0.0.1", 0))
            copy = httpx.Request(request.method, request.url, headers=request.headers,
                                 content=body)
            response = await asgi.handle_async_request(copy)
            content = await response.aread()
            return httpx.Response(response.status_code, headers=response.headers,
                                  content=content)

        return anyio.run(send)



def call(method: str, path: str, **kw: Any) -> Any:
    with server() as client:
        r = client.request(method, path, **kw)
        return r.json() if r.headers.get("content-type", "").startswith("application/json") \
            else r.text


def _password(prompt: str, *, stdin: bool, confirm: bool = False) -> str:
    if stdin:
        return sys.stdin.readline().rstrip("\n")
    return str(typer.prompt(prompt, hide_input=True, confirmation_prompt=confirm))


# --- signing in ------------------------------------------------------------------------------


def login(url: str = typer.Argument(..., help="The server, e.g. https://kiln.example.org"),
          user: str = typer.Option(None, "--user", "-u", help="Default: asked."),
          password_stdin: bool = typer.Option(False, "--password-stdin",
                                              help="Read the password from stdin."),
          days: int = typer.Option(90, "--days", min=1, max=366,
                                   help="How long the token lives.")) -> None:
    """Sign in to a kiln server: a personal token is made and kept in your config folder
    (0600), never in shell history or the process list."""
    import socket

    from kiln import credentials
    from kiln.client import Client

    name = user or str(typer.prompt("user"))
    password = _password("password", stdin=password_stdin)
    with Client(url) as client:
        made = client.request("POST", "/login", json={
            "username": name, "password": password, "expires_days": days,
            "token_name": f"kiln login on {socket.gethostname()}"[:100]}).json()
    credentials.remember(client.url, made["token"], made["user"], made["id"])
    typer.echo(f"signed in to {client.url} as {made['user']}; token kept in "
               f"{credentials.path()} until {short_time(made['expires_at'], seconds=False)}")
    typer.echo(f"commands other than whoami/token/user/...: export KILN_URL={client.url}")


def logout(url: str = typer.Argument(None, help="Default: the last server signed in to.")) -> None:
    """Revoke this machine's token on the server and forget it."""
    from kiln import credentials
    from kiln.client import Client
    from kiln.errors import KilnError, UserError

    url = (url or credentials.current() or "").rstrip("/")
    if not url:
        raise UserError("you are not signed in to any server", where="URL")
    gone = credentials.forget(url)
    if gone is None:
        raise UserError(f"you are not signed in to {url}", where="URL",
                        hint=f"{credentials.path()} lists where you are")
    try:
        with Client(url, token=gone["token"]) as client:
            client.request("DELETE", f"/tokens/{gone['token_id']}")
    except KilnError as e:
        typer.echo(f"forgot the token; the server could not revoke it: {e.message}", err=True)
        return
    typer.echo(f"signed out of {url}; the token is revoked")


def whoami(as_json: bool = typer.Option(False, "--json")) -> None:
    """Who the server takes you for, and your roles."""
    me = call("GET", "/whoami")
    if as_json:
        print_json(me)
        return
    if not me["auth"]:
        typer.echo(f"{me['name']}: this machine's own home, everything allowed (no --auth)")
        return
    extra = [x for x in ("server admin" if me["admin"] else "",
                         "read-only token" if me["read_only"] else "") if x]
    typer.echo(f"{me['name']} ({me['kind']}, via {me['via']}{', ' if extra else ''}"
               f"{', '.join(extra)})")
    if me["groups"]:
        typer.echo(f"groups: {', '.join(me['groups'])}")
    for ns, role in sorted(me["namespaces"].items()):
        typer.echo(f"  {ns}: {role}")
    for g in me["grants"]:
        typer.echo(f"  {g['namespace']}/{g['kind']}/{g['name']}: {g['level']} (grant)")


# --- tokens ----------------------------------------------------------------------------------


@token_app.command("create")
def token_create(name: str = typer.Argument(..., help="What it is for, e.g. ci-nightly."),
                 days: int = typer.Option(90, "--days", min=1, max=366),
                 never: bool = typer.Option(False, "--never-expires",
                                            help="Service accounts only."),
                 read_only: bool = typer.Option(False, "--read-only",
                                                help="Only reads: GET requests."),
                 user: str = typer.Option(None, "--user", help="For this account (a service "
                                                               "account; admins: anyone)."),
                 as_json: bool = typer.Option(False, "--json")) -> None:
    """Make a token; it is printed once and only its hash is kept."""
    made = call("POST", "/tokens", json={"name": name, "expires_days": None if never else days,
                                         "read_only": read_only, "user": user})
    if as_json:
        print_json(made)
        return
    typer.echo(made["token"])
    until = short_time(made["expires_at"], seconds=False) if made["expires_at"] else "never"
    typer.echo(f"token {made['id']} '{name}' (expires {until}"
               f"{', read-only' if read_only else ''}): shown once, keep it now", err=True)


@token_app.command("ls")
def token_ls(user: str = typer.Option(None, "--user"),
             as_json: bool = typer.Option(False, "--json")) -> None:
    """Your tokens: never their secrets, a prefix to tell them apart."""
    rows = call("GET", "/tokens", params={"user": user} if user else None)["tokens"]

    def row(t: dict[str, Any]) -> list[str]:
        return [str(t["id"]), t["name"], t["prefix"] + "…", t["state"],
                "yes" if t["read_only"] else "", short_time(t["created_at"], seconds=False),
                short_time(t["expires_at"], seconds=False) if t["expires_at"] else "never",
                short_time(t["last_used_at"], seconds=False) if t["last_used_at"] else "-"]

    print_listing(rows, as_json=as_json, empty="no tokens; `kiln token create NAME` makes one",
                  columns=["id", "name", "prefix", "state", "read-only", "created", "expires",
                           "last used"], row=row)


@token_app.command("revoke")
def token_revoke(token_id: int = typer.Argument(..., metavar="ID")) -> None:
    """Revoke a token at once."""
    call("DELETE", f"/tokens/{token_id}")
    typer.echo(f"token {token_id} revoked")


# --- users and groups ------------------------------------------------------------------------


@user_app.command("add")
def user_add(name: str = typer.Argument(...),
             admin: bool = typer.Option(False, "--admin", help="A server admin."),
             no_password: bool = typer.Option(False, "--no-password",
                                              help="Signs in through the proxy or a token."),
             password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    from kiln.names import check_name

    check_name("user", name)  # before asking for a password
    password = None if no_password else _password(f"password for {name}",
                                                  stdin=password_stdin, confirm=True)
    made = call("POST", "/users", json={"name": name, "password": password, "admin": admin})
    typer.echo(f"user {made['name']}{' (server admin)' if made['admin'] else ''}")


@user_app.command("ls")
def user_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    rows = call("GET", "/users")["users"]
    print_listing(rows, as_json=as_json, empty="no users", columns=[
        "name", "kind", "admin", "disabled", "groups", "created"], row=lambda u: [
        u["name"], u["kind"], "yes" if u["admin"] else "", "yes" if u["disabled"] else "",
        ", ".join(u["groups"]), short_time(u["created_at"], seconds=False)])


@user_app.command("passwd")
def user_passwd(name: str = typer.Argument(...),
                password_stdin: bool = typer.Option(False, "--password-stdin")) -> None:
    """Set a user's password."""
    call("PATCH", f"/users/{name}", json={
        "password": _password(f"new password for {name}", stdin=password_stdin, confirm=True)})
    typer.echo(f"password of {name} set")


@user_app.command("set")
def user_set(name: str = typer.Argument(...),
             admin: bool = typer.Option(None, "--admin/--no-admin"),
             disabled: bool = typer.Option(None, "--disabled/--enabled",
                                           help="A disabled account's tokens stop at once.")
             ) -> None:
    made = call("PATCH", f"/users/{name}", json={"admin": admin, "disabled": disabled})
    typer.echo(f"{made['name']}: admin {made['admin']}, disabled {made['disabled']}")


@user_app.command("rm")
def user_rm(name: str = typer.Argument(...)) -> None:
    call("DELETE", f"/users/{name}")
    typer.echo(f"user {name} removed, with their tokens, bindings and grants")


@group_app.command("create")
def group_create(name: str = typer.Argument(...)) -> None:
    call("POST", "/groups", json={"name": name})
    typer.echo(f"group {name}")


@group_app.command("ls")
def group_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    rows = call("GET", "/groups")["groups"]
    print_listing(rows, as_json=as_json, empty="no groups; `kiln group create NAME`",
                  columns=["name", "members"],
                  row=lambda g: [g["name"], ", ".join(g["members"])])


@group_app.command("add")
def group_add(group: str = typer.Argument(...), users: list[str] = typer.Argument(...)) -> None:
    for u in users:
        call("PUT", f"/groups/{group}/members/{u}")
    typer.echo(f"{', '.join(users)} in group {group}")


@group_app.command("remove")
def group_remove(group: str = typer.Argument(...), user: str = typer.Argument(...)) -> None:
    call("DELETE", f"/groups/{group}/members/{user}")
    typer.echo(f"{user} out of group {group}")


@group_app.command("rm")
def group_rm(name: str = typer.Argument(...)) -> None:
    call("DELETE", f"/groups/{name}")
    typer.echo(f"group {name} removed")


# --- namespaces and grants -------------------------------------------------------------------


def _subject(user: str | None, group: str | None) -> tuple[str, str]:
    from kiln.errors import UserError

    if bool(user) == bool(group):
        raise UserError("name one user or one group", where="--user/--group",
                        hint="e.g. --user ann or --group data-team")
    return ("user", user) if user else ("group", group)  # type: ignore[return-value]


def _show_members(ns: dict[str, Any]) -> None:
    typer.echo(f"namespace {ns['name']} (owner {ns['owner']})")
    for m in ns["members"]:
        typer.echo(f"  {m['kind']} {m['name']}: {m['role']}")


@namespace_app.command("create")
def namespace_create(name: str = typer.Argument(...),
                     owner: str = typer.Option(..., "--owner", help="Becomes its admin.")
                     ) -> None:
    _show_members(call("POST", "/namespaces", json={"name": name, "owner": owner}))


@namespace_app.command("ls")
def namespace_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    """The namespaces you may enter, with your role."""
    got = call("GET", "/namespaces")
    rows = [{"name": n, "role": got["roles"].get(n, "admin" if not got["roles"] else "")}
            for n in got["namespaces"]]
    print_listing(rows, as_json=as_json, columns=["namespace", "your role"],
                  row=lambda r: [r["name"], r["role"]], empty="no namespace you may enter")


@namespace_app.command("members")
def namespace_members(name: str = typer.Argument(...),
                      as_json: bool = typer.Option(False, "--json")) -> None:
    got = call("GET", f"/namespaces/{name}/members")
    if as_json:
        print_json(got)
    else:
        _show_members(got)


@namespace_app.command("bind")
def namespace_bind(name: str = typer.Argument(...),
                   role: str = typer.Option(..., "--role", help="admin, edit or view"),
                   user: str = typer.Option(None, "--user"),
                   group: str = typer.Option(None, "--group")) -> None:
    """Give a user or group a role in the namespace (a Kubeflow contributor)."""
    kind, who = _subject(user, group)
    _show_members(call("PUT", f"/namespaces/{name}/members/{kind}/{who}", json={"role": role}))


@namespace_app.command("unbind")
def namespace_unbind(name: str = typer.Argument(...), user: str = typer.Option(None, "--user"),
                     group: str = typer.Option(None, "--group")) -> None:
    kind, who = _subject(user, group)
    _show_members(call("DELETE", f"/namespaces/{name}/members/{kind}/{who}"))


@namespace_app.command("owner")
def namespace_owner(name: str = typer.Argument(...), owner: str = typer.Argument(...)) -> None:
    _show_members(call("PUT", f"/namespaces/{name}/owner", json={"owner": owner}))


@namespace_app.command("service-account")
def namespace_service_account(name: str = typer.Argument(...),
                              account: str = typer.Argument(...),
                              role: str = typer.Option("edit", "--role")) -> None:
    """An account for automation bound to this namespace; then `kiln token create NAME
    --user ACCOUNT --never-expires`."""
    _show_members(call("POST", f"/namespaces/{name}/service-accounts",
                       json={"name": account, "role": role}))


@grant_app.command("add")
def grant_add(kind: str = typer.Argument(..., help="volume, pipeline, model or bucket"),
              name: str = typer.Argument(...),
              level: str = typer.Option("read", "--level", help="read, edit or manage"),
              user: str = typer.Option(None, "--user"),
              group: str = typer.Option(None, "--group")) -> None:
    """Share one object of the current namespace (KILN_NAMESPACE) with a user or group."""
    skind, who = _subject(user, group)
    made = call("PUT", f"/grants/{kind}/{name}/{skind}/{who}", json={"level": level})
    typer.echo(f"{skind} {who} may {made['level']} {kind} {name} in {made['namespace']}")


@grant_app.command("rm")
def grant_rm(kind: str = typer.Argument(...), name: str = typer.Argument(...),
             user: str = typer.Option(None, "--user"),
             group: str = typer.Option(None, "--group")) -> None:
    skind, who = _subject(user, group)
    call("DELETE", f"/grants/{kind}/{name}/{skind}/{who}")
    typer.echo(f"grant of {skind} {who} on {kind} {name} removed")


@grant_app.command("ls")
def grant_ls(as_json: bool = typer.Option(False, "--json")) -> None:
    rows = call("GET", "/grants")["grants"]
    print_listing(rows, as_json=as_json, empty="nothing in this namespace is shared",
                  columns=["kind", "name", "with", "level", "by"], row=lambda g: [
                      g["kind"], g["name"], f"{g['subject_kind']} {g['subject']}", g["level"],
                      g["granted_by"]])


def audit(limit: int = typer.Option(50, "--limit", min=1, max=1000),
          actor: str = typer.Option(None, "--actor"),
          everywhere: bool = typer.Option(False, "--all", help="Every namespace (admins)."),
          as_json: bool = typer.Option(False, "--json")) -> None:
    """Who created, changed, deleted, shared or exported what (newest first)."""
    rows = call("GET", "/audit", params={k: v for k, v in {
        "limit": limit, "actor": actor, "everywhere": everywhere or None}.items() if v})
    print_listing(rows["entries"], as_json=as_json, empty="nothing logged yet",
                  columns=["when", "who", "action", "namespace", "what", "status"],
                  row=lambda e: [short_time(e["at"]), e["actor"], e["action"],
                                 e["namespace"] or "-", e["target"], str(e["status"])])


@export_app.command("kubeflow-profiles")
def export_profiles(out: Path = typer.Option(None, "-o", "--output",
                                             help="Default: standard output.")) -> None:
    """Profiles, contributor RoleBindings and AuthorizationPolicies for Kubeflow, as YAML."""
    text = call("GET", "/export/kubeflow-profiles")
    if out is None:
        sys.stdout.write(text)
        return
    from kiln.files import atomic_path

    with atomic_path(out) as tmp:
        tmp.write_text(text)
    console(stderr=True).print(f"wrote {out}", markup=False)
