"""Sharing what was made: buckets of published versions (snapshots, registered models, runs'
outputs), subscriptions that keep a local volume or model at a bucket's newest version, and
sync between installations that moves only the content-addressed pieces the receiver lacks
(docs/registry.md). Registered models, with versions and aliases, are in `models`.

The records: buckets and their versions in the default namespace's catalog (server-wide,
like identity); pins, subscriptions and models in each namespace's own. The bytes stay in the
namespaces' stores: a bucket version refers to them, it never copies them.
"""
