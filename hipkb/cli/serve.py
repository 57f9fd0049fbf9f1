"""``hipkb serve``: the case page, teaching mode and the JSON API in the browser.

A thin click layer over :func:`hipkb.web.app.create_app` and uvicorn. The
server binds to loopback unless ``--host`` says otherwise, and then warns:
it has no login, and anyone who can reach it can use it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

import click

from hipkb.batch import startup
from hipkb.cli.common import kb_options, load_kb_from

LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether *host* names this machine only (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback exposes the app to the network (a warning says so).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on.")
@click.option("--templates", "templates", type=click.Path(exists=True, file_okay=False, path_type=Path),
              default=None, help="Directory of Jinja report templates replacing the shipped ones (sandboxed).")
@kb_options
def command(host: str, port: int, templates: Path | None, rules_dir: Path | None, facts_dir: Path | None) -> None:
    """Serve the case page, teaching mode and the JSON API at http://HOST:PORT/.

    The server keeps the knowledge base, never a patient: every request
    carries its whole case. The API is described at /api (OpenAPI at
    /api/v1/openapi.json). Stop it with Ctrl-C.
    """
    from hipkb.web.app import LOOPBACK_HOSTS, create_app
    from hipkb.web.server import listen, serve, url_of

    kb = load_kb_from(rules_dir, facts_dir)  # a bad knowledge base stops here, before listening
    loopback = is_loopback(host)
    # A loopback server answers to loopback names, and to the address it was given (127.0.0.2).
    hosts = (*LOOPBACK_HOSTS, host.strip("[]").lower()) if loopback else None
    app = create_app(kb, templates=templates, allowed_hosts=hosts)
    sock = listen(host, port)  # a busy port is one line here, before anything says "serving"
    if not loopback:
        click.echo(f"hipkb: warning: listening on {host}, not loopback: anyone who can reach this "
                   "machine can use the app (there is no login); use --host 127.0.0.1 to keep it local",
                   err=True)
    startup.settle(startup.SERVER)  # the knowledge base and the engine live as long as the server
    click.echo(f"hipkb: serving {kb.name} {kb.version} at {url_of(sock)} (Ctrl-C stops it)", err=True)
    serve(app, sock)
