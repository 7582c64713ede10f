"""The token's holder outside the stack: an AWS Secrets Manager secret (the ``sink`` input).

The secret's ``SecretString`` is the token itself. Each key's token is written as one version whose id is
derived from the key (:func:`version_id_for`), so a write retried after a lost answer is the same version, and
whether the secret's ``AWSCURRENT`` version is a key's own can be told from its id alone: the provider never reads
a token back. ``PutSecretValue`` moves ``AWSCURRENT`` to the new version and ``AWSPREVIOUS`` to the one before,
which is how consumers find the new token and the previous one during a rotation's grace period.

boto3 is imported only here, and only when a key has a sink (the package's ``aws`` extra); credentials come from
AWS's own chain (environment, profile, role). No Pulumi.

The Secrets Manager actions called: ``DescribeSecret``, ``CreateSecret``, ``PutSecretValue``, ``TagResource``,
``ListSecretVersionIds``, ``UpdateSecretVersionStage`` and ``DeleteSecret`` (docs/keeping-tokens-out-of-the-stack.md).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from .errors import ArdentConfigurationError, ArdentError
from .models import SecretToken
from .state import SINK_MISMATCH, SINK_MISSING, SinkSpec

CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"
CREATED_BY_TAG: Final = "ardent:created-by"
"""Tags a secret the provider created: only such a secret is deleted at destroy."""
CREATED_BY: Final = "ardent-provider"
RESTORES_TAG: Final = "ardent:restores-version"
"""Tags a secret that existed before with its version that was current before the first token: destroy restores it."""
KEY_ID_TAG: Final = "ardent:key-id"
ORG_ID_TAG: Final = "ardent:org-id"
DEFAULT_RECOVERY_WINDOW_DAYS: Final = 7
DESCRIPTION: Final = "The token of an Ardent API key, written by ardent-provider; its tags name the current key."
_VERSION_NAMESPACE: Final = "6f1d2f3e-9a49-4c36-9a0e-2d8f3b7c0a51"


class SinkError(ArdentError):
    """The secret that holds a key's token could not be written, read or cleaned up; says which and why."""


@dataclass(frozen=True)
class SinkWrite:
    """Where a token was written: the secret's ARN and the version that holds it."""

    secret_arn: str
    version_id: str


def version_id_for(org_id: str, key_id: str) -> str:
    """The secret version that holds ``key_id``'s token: the same for every write of that key."""
    return str(uuid.uuid5(uuid.UUID(_VERSION_NAMESPACE), f"{org_id}/{key_id}"))


ClientFactory = Callable[[SinkSpec], Any]
"""Makes a Secrets Manager client for a sink (boto3's by default; tests may pass their own)."""


def boto3_client(spec: SinkSpec) -> Any:
    """A Secrets Manager client from AWS's standard credential chain, for the sink's region and endpoint."""
    try:
        import boto3
        from botocore.config import Config
    except ImportError:
        raise ArdentConfigurationError(
            f"The key's sink names AWS Secrets Manager secret {spec.secret_id!r}, but boto3 is not installed: "
            "install the package with its aws extra (`pip install 'ardent-provider[aws]'`) where the provider runs."
        ) from None
    _hide_secret_strings_in_aws_logs()
    session = boto3.session.Session()
    region = sink_region(spec, session.region_name)
    config = Config(retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=5, read_timeout=30)
    return session.client("secretsmanager", region_name=region, endpoint_url=spec.endpoint_url, config=config)


def sink_region(spec: SinkSpec, configured: str | None) -> str:
    """The sink's region: its own, an ARN's, ``AWS_REGION``, then boto3's (``AWS_DEFAULT_REGION``, the profile).

    boto3 itself never reads ``AWS_REGION``, which other AWS tools and runtimes set; without any region a clear
    error says where to give one, before anything is created.
    """
    region = spec.region or _arn_region(spec.secret_id) or os.environ.get("AWS_REGION") or configured
    if not region:
        raise ArdentConfigurationError(
            f"The key's sink names AWS Secrets Manager secret {spec.secret_id!r}, but no AWS region is known for it: "
            "set the sink's region, give the secret's ARN as secret_id, or set AWS_REGION (or AWS_DEFAULT_REGION, "
            "or a region in the AWS profile) where the provider runs."
        )
    return region


# A request's SecretString as botocore's debug log shows it: in the parameters, or in the JSON body's bytes.
_LOGGED_SECRET_STRING: Final = re.compile(r"""(SecretString\\?['"]?\s*[:=]\s*\\?['"])[^'"\\]*""")


class _SecretStringsHidden(logging.Filter):
    """Blanks the ``SecretString`` of the requests that botocore logs at debug level (parameters and bodies)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "SecretString" in message:
            record.msg, record.args = _LOGGED_SECRET_STRING.sub(r"\1[hidden]", message), None
        return True


def _hide_secret_strings_in_aws_logs() -> None:
    """Put the filter on every botocore logger: whoever turns AWS's debug logging on never sees a token."""
    names = [name for name in list(logging.root.manager.loggerDict) if name.split(".")[0] == "botocore"]
    for name in ["botocore", *names]:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _SecretStringsHidden) for existing in logger.filters):
            logger.addFilter(_SecretStringsHidden())


def names_written_secret(spec: SinkSpec, secret_arn: str | None) -> bool:
    """Whether ``spec`` names the secret at ``secret_arn`` (written earlier): by that ARN, or by its name in its region.

    Its region is the one given, an ARN's, else the environment's (``AWS_REGION``, ``AWS_DEFAULT_REGION``): a
    region written out that the environment gave before names the same secret.
    """
    parts = (secret_arn or "").split(":", 6)
    if len(parts) < 7 or parts[5] != "secret":
        return False
    if spec.secret_id == secret_arn:
        return True
    # The ARN names the secret, then a hyphen and six characters that Secrets Manager adds.
    name = parts[6].rsplit("-", 1)[0]
    region = (
        spec.region
        or _arn_region(spec.secret_id)
        or os.environ.get("AWS_REGION")
        or os.environ.get("AWS_DEFAULT_REGION")
    )
    return spec.secret_id == name and region == parts[3]


def _arn_region(secret_id: str) -> str | None:
    parts = secret_id.split(":")
    return parts[3] or None if secret_id.startswith("arn:") and len(parts) > 3 else None


def _reason(error: Exception) -> str:
    """AWS's reason, without anything the request carried (the token is never in it)."""
    response = getattr(error, "response", None)
    if isinstance(response, Mapping):
        detail = response.get("Error", {})
        code, message = detail.get("Code", ""), detail.get("Message", "")
        return f"{code}: {message}" if code else str(message or error)
    return f"{type(error).__name__}: {error}"


def _code(error: Exception) -> str:
    response = getattr(error, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, Mapping) else ""


def _aws_errors() -> tuple[type[Exception], ...]:
    try:
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return ()
    return (BotoCoreError, ClientError)


_GONE: Final = ("ResourceNotFoundException",)
# Secrets Manager answers a secret scheduled for deletion with this code (and a message saying so).
_SCHEDULED: Final = "InvalidRequestException"


class SecretsManagerSink:
    """One secret: write a key's token as its current version, check that it still is, release it at destroy."""

    def __init__(self, spec: SinkSpec, client_factory: ClientFactory = boto3_client) -> None:
        self.spec = spec
        self._factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        """The Secrets Manager client, made on first use."""
        with self._lock:
            if self._client is None:
                self._client = self._factory(self.spec)
            return self._client

    def describe(self) -> str:
        """How messages name the secret."""
        where = f" in {self.spec.region}" if self.spec.region else ""
        return f"AWS Secrets Manager secret {self.spec.secret_id!r}{where}"

    def _fail(self, doing: str, error: Exception, token: str | None = None) -> SinkError:
        message = f"Could not {doing} {self.describe()}: {_reason(error)}"
        # AWS's reasons never quote a SecretString; botocore's own parameter checks may quote any parameter.
        return SinkError(message.replace(token, "[token]") if token else message)

    def _describe_secret(self) -> Mapping[str, Any] | None:
        """The secret's description; None when it does not exist or is scheduled for deletion."""
        try:
            found: Mapping[str, Any] = self.client.describe_secret(SecretId=self.spec.secret_id)
        except _aws_errors() as error:
            if _code(error) in _GONE:
                return None
            raise
        return None if found.get("DeletedDate") else found

    def write(self, token: str, *, key_id: str, org_id: str) -> SinkWrite:
        """Write ``token`` as the secret's ``AWSCURRENT`` version (creating the secret, tagged, if missing).

        The previous current version becomes ``AWSPREVIOUS``. Raises :class:`SinkError` naming the secret and
        AWS's reason; the token is never part of a message.
        """
        version = version_id_for(org_id, key_id)
        tags = [{"Key": KEY_ID_TAG, "Value": key_id}, {"Key": ORG_ID_TAG, "Value": org_id}]
        try:
            found = self._describe_secret()
            if found is None and self.spec.secret_id.startswith("arn:"):
                raise SinkError(
                    f"Could not write the token of Ardent key {key_id} to {self.describe()}: no such secret (or it is "
                    "scheduled for deletion). An ARN names a secret that exists; give a name as secret_id to have "
                    "the secret created."
                )
            if found is None:
                try:
                    created = self.client.create_secret(
                        Name=self.spec.secret_id,
                        SecretString=token,
                        ClientRequestToken=version,
                        Description=DESCRIPTION,
                        Tags=[*tags, {"Key": CREATED_BY_TAG, "Value": CREATED_BY}],
                    )
                    return SinkWrite(str(created["ARN"]), str(created.get("VersionId") or version))
                except _aws_errors() as error:
                    if _code(error) != "ResourceExistsException":
                        raise
            written = self.client.put_secret_value(
                SecretId=self.spec.secret_id, SecretString=token, ClientRequestToken=version
            )
            self.client.tag_resource(SecretId=self.spec.secret_id, Tags=[*tags, *_restore_point(found, version)])
            return SinkWrite(str(written["ARN"]), str(written.get("VersionId") or version))
        except ArdentError:
            raise
        except Exception as error:  # whatever failed, the caller must learn it as a failed write
            raise self._fail(f"write the token of Ardent key {key_id} to", error, token) from None

    def withdraw(self, key_id: str, org_id: str) -> str:
        """After a failed write: if the key's version became ``AWSCURRENT`` after all, make the one before current.

        A write can land and its answer be lost (or a later step, such as tagging, fail), and the key is then
        revoked: consumers must not read its token. Returns what was found and done, for the error's note; never
        raises.
        """
        mine = version_id_for(org_id, key_id)
        try:
            found = self._describe_secret()
            stages: Mapping[str, list[str]] = (found or {}).get("VersionIdsToStages") or {}
            if CURRENT not in stages.get(mine, []):
                return f"{self.describe()} does not hold the revoked key's token as its current version"
            before = next((version for version, labels in stages.items() if PREVIOUS in labels), None)
            if before is None:
                return f"{self.describe()} holds only the revoked key's token"
            self.client.update_secret_version_stage(
                SecretId=self.spec.secret_id, VersionStage=CURRENT, MoveToVersionId=before, RemoveFromVersionId=mine
            )
        except Exception as error:  # it only adds a note to the write's own error
            return f"{self.describe()} could not be checked for the revoked key's token ({_reason(error)})"
        return (
            f"{self.describe()} had the revoked key's token as its current version; version {before} is current again"
        )

    def check(self, version_id: str | None) -> str | None:
        """None when the secret's ``AWSCURRENT`` version is ``version_id``; else ``sink_mismatch`` or ``sink_missing``.

        Only the secret's description is read (its versions' labels), never a token.
        """
        try:
            found = self._describe_secret()
        except _aws_errors() as error:
            raise self._fail("read", error) from None
        if found is None:
            return SINK_MISSING
        stages = found.get("VersionIdsToStages") or {}
        current = next((version for version, labels in stages.items() if CURRENT in labels), None)
        return None if version_id is not None and current == version_id else SINK_MISMATCH

    def release(self, key_id: str, org_id: str, earlier_key_ids: Iterable[str] = ()) -> str:
        """After the key is revoked: a secret the provider created is deleted, another keeps its other versions.

        Only while the secret's current version is this key's: a secret another writer (the key's replacement,
        or a hand) has written since is left alone. ``earlier_key_ids`` (the key's previous and replaced keys)
        wrote versions too, which are never made current again. Returns what was done, for the log.
        """
        mine = version_id_for(org_id, key_id)
        ours = {mine, *(version_id_for(org_id, earlier) for earlier in earlier_key_ids)}
        try:
            found = self._describe_secret()
            if found is None:
                return f"{self.describe()} is already gone"
            stages: Mapping[str, list[str]] = found.get("VersionIdsToStages") or {}
            if CURRENT not in stages.get(mine, []):
                return f"{self.describe()} holds another token now; it was left as it is"
            tags = {tag.get("Key"): tag.get("Value") for tag in found.get("Tags") or []}
            if tags.get(CREATED_BY_TAG) == CREATED_BY:
                days = self.spec.recovery_window_days or DEFAULT_RECOVERY_WINDOW_DAYS
                answer = self.client.delete_secret(SecretId=self.spec.secret_id, RecoveryWindowInDays=days)
                return f"{self.describe()} was deleted; it can be restored until {answer.get('DeletionDate')}"
            return self._restore_other_version(mine, ours, tags.get(RESTORES_TAG) or None)
        except _aws_errors() as error:
            raise self._fail(f"clean up the token of Ardent key {key_id} in", error) from None

    def _restore_other_version(self, mine: str, ours: set[str], restore: str | None) -> str:
        """Make the secret's own value current again (a secret that existed before).

        That is the version ``restore`` names (current before the first token was written), while it exists;
        else the newest version that no key of this resource wrote.
        """
        listed = self.client.list_secret_version_ids(SecretId=self.spec.secret_id, IncludeDeprecated=True)
        versions = listed.get("Versions", [])
        others = sorted(
            (version for version in versions if version.get("VersionId") not in ours),
            key=lambda version: (version.get("VersionId") == restore, str(version.get("CreatedDate") or "")),
            reverse=True,
        )
        if not others:
            return (
                f"{self.describe()} existed before the key and has no other version: it keeps the revoked key's token "
                "as its current version"
            )
        target = str(others[0]["VersionId"])
        self.client.update_secret_version_stage(
            SecretId=self.spec.secret_id, VersionStage=CURRENT, MoveToVersionId=target, RemoveFromVersionId=mine
        )
        if restore:
            # Restored: the next key written here records the secret's current version afresh.
            self.client.tag_resource(SecretId=self.spec.secret_id, Tags=[{"Key": RESTORES_TAG, "Value": ""}])
        return f"{self.describe()} existed before the key: its version {target} is current again"


def _restore_point(found: Mapping[str, Any] | None, mine: str) -> list[dict[str, str]]:
    """The tag that records a secret's own current version, at the first write of a token to a secret that existed."""
    tags = {tag.get("Key"): tag.get("Value") for tag in (found or {}).get("Tags") or []}
    if found is None or tags.get(CREATED_BY_TAG) == CREATED_BY or tags.get(RESTORES_TAG):
        return []
    stages: Mapping[str, list[str]] = found.get("VersionIdsToStages") or {}
    current = next((version for version, labels in stages.items() if CURRENT in labels), None)
    return [{"Key": RESTORES_TAG, "Value": current}] if current and current != mine else []


def fingerprint(token: str) -> str:
    """The fingerprint of a token, as ``token_fingerprint`` shows it."""
    return SecretToken(token).fingerprint


class SinkPool:
    """The sinks of one run, one per declared secret, sharing their clients. Thread-safe."""

    def __init__(self, client_factory: ClientFactory = boto3_client) -> None:
        self._factory = client_factory
        self._lock = threading.Lock()
        self._clients: dict[tuple[str | None, str | None], Any] = {}

    def _client_for(self, spec: SinkSpec) -> Any:
        where = (spec.region or _arn_region(spec.secret_id), spec.endpoint_url)
        with self._lock:
            if where not in self._clients:
                self._clients[where] = self._factory(spec)
            return self._clients[where]

    def sink(self, spec: SinkSpec) -> SecretsManagerSink:
        """The sink for ``spec``."""
        return SecretsManagerSink(spec, self._client_for)
