"""Opening a profile: create it (from a deployment pack or not), unlock it, check its role.

Written once for the field window, the coordinator's console and the command line, so the
three say the same thing about a wrong role and never leave a half-open database behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from fieldscreen.errors import UserError
from fieldscreen.i18n import _

if TYPE_CHECKING:
    from fieldscreen.exchange.pack import DeploymentPack
    from fieldscreen.store.profile import ProfileRole, ProfileStore, UnlockedProfile

# A passphrase, or a function that asks for it: the command line asks only once nothing
# else can fail first, so nobody types a passphrase for a profile that does not exist or a
# pack that is refused.
Passphrase = str | Callable[[], str]


def _given(passphrase: Passphrase) -> str:
    return passphrase if isinstance(passphrase, str) else passphrase()


def unlock_profile(store: ProfileStore, name: str, passphrase: Passphrase, *,
                   require_coordinator: bool = False) -> UnlockedProfile:
    """The profile `name`, unlocked; a field profile is refused (and locked again) when
    `require_coordinator`, as the coordinator's console needs.

    The database is closed again on any failure, so a wrong passphrase leaves nothing open.
    A function for `passphrase` is called once the profile is found.
    """
    from fieldscreen.store.profile import ProfileRole

    locked = store.open(name)
    try:
        profile = locked.unlock(_given(passphrase))
    except BaseException:
        locked.close()
        raise
    if require_coordinator and profile.info.role is not ProfileRole.COORDINATOR:
        profile.lock()
        raise UserError(_("'{name}' is a field profile; the console opens "
                          "coordinator profiles.").format(name=name),
                        hint=_("Open it with: fieldscreen field"))
    return profile


def create_profile(store: ProfileStore, name: str, role: ProfileRole,
                   passphrase: Passphrase, *,
                   pack_raw: bytes | None = None, recovery_recipient: str | None = None,
                   demo: bool = False) -> tuple[UnlockedProfile, DeploymentPack | None]:
    """Create `name` and return it unlocked, with the deployment pack installed if given.

    The pack is read (and its signature checked) before anything is created, so a bad pack
    leaves no profile behind. A pack gives the recovery slot (its coordinator's key) and the
    training flag. A function for `passphrase` is called once the name and the pack passed.
    """
    from fieldscreen.exchange.pack import read_pack
    from fieldscreen.store.profile import ProfileRole

    store.path(name)  # a bad name is refused before the passphrase is asked
    pack = None
    if pack_raw is not None:
        if role is not ProfileRole.FIELD:
            raise UserError(_("A deployment pack is installed on field profiles."))
        pack = read_pack(pack_raw)
    profile = store.create(name, role, _given(passphrase),
                           recovery_recipient=pack.recipient if pack else recovery_recipient,
                           demo=pack.demo if pack else demo)
    if pack is not None and pack_raw is not None:
        try:
            profile.install_pack(pack_raw, pack.recipients)
        except BaseException:
            profile.lock()
            raise
    return profile, pack
