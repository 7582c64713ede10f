"""Key operations that must never lose a token or leave an orphan.

Create with reconciliation, adoption and revocation; Pulumi-free, the provider adapts them to the engine.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timedelta

from .client import ArdentClient
from .errors import (
    ArdentAPIError,
    ArdentConfigurationError,
    ArdentError,
    ArdentTransportError,
    AuthenticationError,
    NotFoundError,
    ServerError,
)
from .models import ApiKey, CreatedKey
from .session import Session

CREATE_ATTEMPTS = 4
# The Date header has one-second resolution; a key created in the attempt may look up to that much older.
CLOCK_SLACK = timedelta(seconds=2)


class KeyAdoptionError(ArdentError):
    """A key named by ``adopt_key_id`` cannot be brought under management; nothing was changed."""


def is_ambiguous(error: ArdentError) -> bool:
    """Whether a failed create may nonetheless have created the key on the server."""
    if isinstance(error, ArdentTransportError):
        return error.sent
    return isinstance(error, ServerError)


def create_key(
    session: Session,
    *,
    name: str,
    role: str,
    scopes: Iterable[str],
    expires_days: int | None,
) -> CreatedKey:
    """Create a key. After an ambiguous failure, revoke any key that attempt may have made, then try again.

    Ardent has no idempotency key, so a blind retry could mint a duplicate whose token nobody holds. Before
    each new attempt the org's keys are listed, and every key with the same name that appeared since the
    failed attempt began, and that this process did not create, is revoked.
    """
    scope_list = list(scopes)
    with session.name_lock(name):
        last_error: ArdentError | None = None
        revoked: list[str] = []
        for attempt in range(CREATE_ATTEMPTS):
            began = session.service_now() - CLOCK_SLACK
            try:
                created = session.client.create_key(
                    session.org_id, name=name, role=role, scopes=scope_list, expires_days=expires_days
                )
            except (ArdentTransportError, ArdentAPIError) as error:
                if not is_ambiguous(error):
                    raise
                last_error = error
                revoked.extend(revoke_strays(session, name, began))
                time.sleep(min(2.0, 0.25 * 2**attempt))
                continue
            session.remember_created(created.id)
            session.inventory.invalidate()
            return created
    assert last_error is not None
    last_error.add_note(
        f"Tried {CREATE_ATTEMPTS} times; after each ambiguous failure the org was checked and "
        f"{len(revoked)} key(s) that a failed attempt had created were revoked ({', '.join(revoked) or 'none'}), "
        "so no untracked key was left behind."
    )
    raise last_error


def revoke_strays(session: Session, name: str, since: datetime) -> list[str]:
    """Revoke keys named ``name`` created at or after ``since`` that this process does not own."""
    strays = [
        key
        for key in session.client.list_keys(session.org_id)
        if key.name == name and key.created_at is not None and key.created_at >= since and not session.is_own(key.id)
    ]
    for key in strays:
        revoke_key(session, key.id)
    return [key.id for key in strays]


def revoke_key(session: Session, key_id: str) -> None:
    """Revoke a key; one that is already revoked or gone counts as done."""
    try:
        session.client.revoke_key(session.org_id, key_id)
    except NotFoundError:
        pass
    finally:
        session.inventory.invalidate()


def find_live_key(session: Session, key_id: str) -> ApiKey | None:
    """The key as the list shows it now (not from the shared inventory), or None when it is not active."""
    session.inventory.invalidate()
    return session.inventory.find(key_id)


def adoptable_key(session: Session, key_id: str) -> ApiKey:
    """The existing key to adopt, or a clear error when it does not exist, is revoked or is elsewhere."""
    key = find_live_key(session, key_id)
    if key is None:
        raise KeyAdoptionError(
            f"Cannot adopt key '{key_id}': org '{session.org_id}' has no active key with that id (it does not "
            "exist, is revoked, or belongs to another org). Nothing was changed; check adopt_key_id."
        )
    return key


def token_matches_key(session: Session, key: ApiKey, token: str) -> bool:
    """Whether ``token`` is the secret of ``key`` and still authenticates."""
    if not token.startswith(key.key_prefix):
        return False
    with ArdentClient(token, api_url=session.settings.api_url, retry=session.client.retry) as probe:
        try:
            probe.get_org(session.org_id)
        except AuthenticationError:
            return False
        except ArdentAPIError as error:
            return error.status == 403
    return True


def require_adoption_token(key_id: str) -> ArdentConfigurationError:
    """The error for adopting a key whose token was not given, with on_missing_token left at 'error'."""
    return ArdentConfigurationError(
        f"Key '{key_id}' is adopted without its token, and its token cannot be read back from Ardent: pass "
        "adopt_token=pulumi.Output.secret(...) or set on_missing_token to 'rotate' (replace it with a new key) "
        "or 'keep' (manage it without publishing a token). Nothing was changed."
    )
