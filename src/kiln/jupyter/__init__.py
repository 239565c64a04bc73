"""kilnflow inside JupyterLab: a Jupyter server extension whose handlers call kilnflow's API
for the notebook panel (issue 26): analyse a notebook as the panel edits it (its steps,
graph and the first error with its cell), and run it as an uploaded pipeline version whose
steps' states the panel follows. Enabled by `kiln notebook start`, or with
`jupyter server --ServerApp.jpserver_extensions="{'kiln.jupyter': True}"`.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "kiln.jupyter"}]


def _load_jupyter_server_extension(serverapp: Any) -> None:
    from kiln.jupyter.handlers import routes

    base = serverapp.web_app.settings["base_url"]
    serverapp.web_app.add_handlers(".*$", routes(base))
