"""One rule per kind of name (volumes, namespaces, services, schedules, pipelines; soon users
and buckets), checked in one place. Each rule says why it is what it is: most of these names
become Kubernetes object names when a pipeline moves to Kubeflow."""

from __future__ import annotations

import re
from dataclasses import dataclass

from kiln.errors import UserError

_DNS_1123 = r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$"


@dataclass(frozen=True)
class NameRule:
    pattern: re.Pattern[str]
    message: str  # "'{name}' is not ...", with {what} for rules shared by several things
    hint: str
    where: str | None = None


RULES: dict[str, NameRule] = {
    # a PVC name on Kubeflow; '.' and '_' are allowed here and mapped there
    "volume": NameRule(
        re.compile(r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"),
        "'{name}' is not a valid volume name",
        "use 1-63 lowercase letters, digits, '.', '_' or '-', starting and ending with a "
        "letter or digit (it becomes a Kubernetes PVC name)", where="NAME"),
    # a Kubernetes namespace (and a Kubeflow profile)
    "namespace": NameRule(
        re.compile(_DNS_1123), "'{name}' is not a namespace name",
        "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit "
        "(as a Kubernetes namespace)", where="namespace"),
    # a DNS-1035 label, as KServe wants for an InferenceService (model and notebook servers)
    "service": NameRule(
        re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$"), "'{name}' is not a valid {what}",
        "use lowercase letters, digits and '-', starting with a letter (at most 63 "
        "characters)"),
    "schedule": NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"), "'{name}' is not a schedule name",
        "letters, digits, '.', '_' and '-', at most 100, e.g. nightly-train", where="name"),
    # a run's readable name: it resolves like an id, so it must not be all hex digits (which
    # would shadow id prefixes); it starts with a letter
    "run": NameRule(
        re.compile(r"^(?![0-9a-fA-F]+$)[A-Za-z][A-Za-z0-9_.\-]{0,99}$"),
        "'{name}' is not a run name",
        "letters, digits, '.', '_' and '-', starting with a letter, at most 100, and not only "
        "hex digits (those read as a run id), e.g. baseline-lr-0.1", where="--name"),
    # people sign in with these and Kubeflow profiles name them (often an e-mail address);
    # lowercase so 'Ann' and 'ann' cannot be two accounts, ASCII so no look-alike letters
    "user": NameRule(
        re.compile(r"^[a-z0-9](?:[a-z0-9._@+-]{0,126}[a-z0-9])?$"),
        "'{name}' is not a user name",
        "1-128 lowercase ASCII letters, digits, '.', '_', '@', '+' or '-', starting and ending "
        "with a letter or digit (an e-mail address works)", where="name"),
    # a Kubernetes Group subject on Kubeflow
    "group": NameRule(
        re.compile(_DNS_1123), "'{name}' is not a group name",
        "1-63 lowercase letters, digits and '-', starting and ending with a letter or digit",
        where="name"),
    "token": NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.@:\-]{0,99}$"), "'{name}' is not a token name",
        "letters, digits, spaces, '.', '_', '@', ':' and '-', at most 100, e.g. laptop-cli",
        where="name"),
    # a bucket's own name, after OWNER/: ASCII only, so that no two names look alike
    # ('churn-data' and 'churn‐data' with a Unicode hyphen), and never '..'
    "bucket": NameRule(
        re.compile(r"^(?!.*\.\.)[a-z0-9](?:[a-z0-9._-]{0,98}[a-z0-9])?$"),
        "'{name}' is not a bucket name",
        "OWNER/NAME: NAME is 1-100 lowercase ASCII letters, digits, '.', '_' or '-' (no '..'), "
        "OWNER a user or group, e.g. team-a/churn-data", where="--bucket"),
    "alias": NameRule(
        re.compile(r"^(?![0-9]+$)[a-z][a-z0-9-]{0,62}$"), "'{name}' is not an alias",
        "lowercase letters, digits and '-', starting with a letter, e.g. production",
        where="alias"),
    "pipeline": NameRule(
        re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}$"),
        "'{name}' is not a valid pipeline name",
        "letters, digits, '.', '_' and '-', starting with a letter or digit", where="name"),
}


def valid(kind: str, name: object) -> bool:
    return isinstance(name, str) and RULES[kind].pattern.match(name) is not None


def check_name(kind: str, name: object, *, what: str | None = None) -> str:
    """`name` if it follows the rule for `kind`, else a UserError saying the rule."""
    rule = RULES[kind]
    if not isinstance(name, str) or not rule.pattern.match(name):
        raise UserError(rule.message.format(name=name, what=what or f"{kind} name"),
                        where=rule.where, hint=rule.hint)
    return name


# Made-up run names (`brisk-otter-417`): easier to say and tell apart than hex ids, as MLflow's
# generated run names are. 48 × 48 × 900 ≈ 2 million.
_ADJECTIVES = ("amber", "bold", "brisk", "calm", "clever", "crisp", "dapper", "eager", "fair",
               "fleet", "gentle", "glad", "grand", "hardy", "jolly", "keen", "lively", "lucid",
               "merry", "mild", "neat", "nimble", "noble", "plucky", "polite", "proud", "quick",
               "quiet", "rapid", "ready", "rosy", "rustic", "sage", "sharp", "shy", "silver",
               "sleek", "snug", "solid", "spry", "steady", "sunny", "swift", "tidy", "vivid",
               "warm", "wise", "witty")
_NOUNS = ("badger", "bear", "beaver", "bison", "crane", "deer", "dolphin", "eagle", "falcon",
          "ferret", "finch", "fox", "gecko", "goose", "hare", "hawk", "heron", "ibis", "jay",
          "koala", "lark", "lemur", "lion", "lynx", "marten", "mole", "moose", "newt", "otter",
          "owl", "panda", "puffin", "quail", "raven", "robin", "seal", "shark", "sloth", "swan",
          "tapir", "tiger", "toad", "trout", "viper", "walrus", "whale", "wolf", "yak")


def made_up_run_name() -> str:
    import secrets

    return (f"{secrets.choice(_ADJECTIVES)}-{secrets.choice(_NOUNS)}-"
            f"{secrets.randbelow(900) + 100}")
