"""Every error kilnflow raises on purpose.

    KilnError                      base: message, where, hint, stable reference id
    ├── UserError                  the user's input is wrong; shown without a traceback
    │   ├── NotebookError          a notebook cannot be compiled (cell and line in `where`)
    │   ├── PipelineDefinitionError  an SDK pipeline or step is malformed (file and line)
    │   ├── SpecError              a PipelineSpec is invalid (JSON field path in `where`)
    │   ├── ParameterError         an unknown parameter or a value of the wrong type
    │   ├── TargetError            a run target that is neither notebook, module nor spec
    │   │   └── ModuleExit         a module that exits (sys.exit, os._exit) while imported
    │   ├── NotFoundError          a run, step, task, artifact or service that does not exist
    │   ├── ConflictError          a name already taken, a last admin removed (HTTP 409)
    │   ├── AuthenticationError    no credentials, or ones the server does not accept (401)
    │   │   └── TooManyAttempts    sign-ins refused for a while after wrong passwords (429)
    │   ├── PermissionDenied       the caller is known but may not do this (403)
    │   ├── ModelError             a model that cannot be found, recognised or loaded for serving
    │   └── RequestError           an inference request that breaks the protocol (HTTP `status`)
    ├── CodecError                 a value no codec can write, or data a codec cannot read
    ├── StoreError                 the artifact store is missing an object or is damaged
    └── CatalogError               the catalog database cannot be opened or migrated

    UserWarning
    └── KaleSDKWarning             a Kale SDK option kilnflow ignores (the warning says why)

User errors carry `where` (file, cell, line or field) and a `hint` (what to do), and the
CLI prints them as three short lines instead of a traceback. Internal errors keep theirs.
"""

from __future__ import annotations

__all__ = [
    "CatalogError",
    "CodecError",
    "ConflictError",
    "AuthenticationError",
    "PermissionDenied",
    "TooManyAttempts",
    "KaleSDKWarning",
    "KilnError",
    "ModelError",
    "ModuleExit",
    "NotFoundError",
    "NotebookError",
    "ParameterError",
    "PipelineDefinitionError",
    "RequestError",
    "SpecError",
    "StoreError",
    "TargetError",
    "UserError",
]


class KilnError(Exception):
    """Base of all kilnflow errors."""

    reference = "kiln-error"

    def __init__(self, message: str, *, where: str | None = None, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.where = where
        self.hint = hint

    def __str__(self) -> str:
        parts = [self.message]
        if self.where:
            parts.append(f"(at {self.where})")
        if self.hint:
            parts.append(f"Hint: {self.hint}")
        return " ".join(parts)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, where={self.where!r}, hint={self.hint!r})"


class UserError(KilnError):
    reference = "user-error"


class NotebookError(UserError):
    reference = "notebook-invalid"


class PipelineDefinitionError(UserError):
    reference = "pipeline-invalid"


class SpecError(UserError):
    reference = "spec-invalid"


class ParameterError(UserError):
    reference = "parameter-invalid"


class TargetError(UserError):
    reference = "target-invalid"


class ModuleExit(TargetError):
    """A module ended the process while it was being imported (sys.exit, os._exit)."""

    reference = "module-exit"

    def __init__(self, path: object, code: object, how: str) -> None:
        name = str(path).rsplit("/", 1)[-1]
        super().__init__(f"{name} calls {how}({code!r}) while it is imported, so its "
                         "pipeline cannot be read", where=str(path),
                         hint='put the script part under `if __name__ == "__main__":`')


class NotFoundError(UserError):
    reference = "not-found"


class ConflictError(UserError):
    reference = "conflict"


class AuthenticationError(UserError):
    reference = "auth-required"


class TooManyAttempts(AuthenticationError):
    """Sign-ins for this name or address are refused until `retry_after` seconds pass."""

    reference = "auth-throttled"

    def __init__(self, message: str, *, retry_after: int, where: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, where=where, hint=hint)
        self.retry_after = retry_after


class PermissionDenied(UserError):
    reference = "permission-denied"


class ModelError(UserError):
    reference = "model-invalid"


class RequestError(UserError):
    """A client's inference request is wrong; `status` is the HTTP status to answer with."""

    reference = "request-invalid"

    def __init__(self, message: str, *, status: int = 400, where: str | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, where=where, hint=hint)
        self.status = status


class CodecError(KilnError):
    reference = "codec-error"


class StoreError(KilnError):
    reference = "store-error"


class CatalogError(KilnError):
    reference = "catalog-error"


class KaleSDKWarning(UserWarning):
    """A Kale SDK option that kilnflow does not honour (kiln.sdk.kale says which and why)."""
