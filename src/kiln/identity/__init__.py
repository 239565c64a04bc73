"""Who may do what on a shared kilnflow: users and groups, namespaces with an owner and role
bindings (admin, edit, view — Kubeflow profiles and their contributors), grants on single
objects (read, edit, manage), personal access tokens and dashboard sessions kept only as
hashes, sign-in throttling and an audit log.

The records live in the default namespace's catalog (the server's own), whichever namespace
a request works in. `kiln.server.authz` decides every REST request with `policy.decide`; the
CLI and the dashboard go through that API. A single user on loopback needs none of this.
"""
