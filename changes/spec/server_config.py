"""The SPEC sections that are server configuration, not API calls: groups, built-in groups,
organization, identity providers, multi-tenant login.

`plan` lists every snippet change: the variables the SPEC implies against those the console
holds (names only; a secret's value is never shown). `apply` stores these sections in the console
through their own services and tells the admin to run `manage.py snippets SPEC` and redeploy —
the apiserver reads them from its environment, so nothing is pushed over the API.

Only the sections the SPEC names are compared and stored: a section left out stays as it is, and
so do the built-in groups and multi-tenant switches a present section does not name. A
cross-tenant group or an identity provider the console holds that a present `groups` or
`identity_providers` section lacks is a removal (`Removal`): deleted only with `prune=True`, else
kept (its variables are listed as kept, not removed).
"""

from dataclasses import dataclass, field

from console.snippets import EnvSetting
from sso.multitenant.services import mtl_update, mtl_values, multi_tenant_login
from sso.multitenant.spec import (
    ALLOW_SETTINGS_PROVIDERS_VAR,
    ONLY_PASSWORD_LOGIN_VAR,
    TENANT_LOGIN_VAR,
)
from sso.providers import catalog
from sso.providers.export import entries_settings
from sso.providers.models import IdentityProvider
from sso.providers.services import idp_create, idp_delete, idp_update
from sso.snippets import (
    console_entries,
    console_identity_provider_settings,
    identity_provider_settings,
)
from tenants.groups import settings as gs
from tenants.groups.models import CrossTenantGroup
from tenants.groups.services import (
    builtin_groups_update,
    group_create,
    group_delete,
    group_update,
    organization_update,
)

from .validate import SpecModel

GROUP_SECTIONS = ("groups", "builtin_groups", "organization")
IDP_SECTIONS = ("identity_providers", "multi_tenant_login")
MTL_NAMES = frozenset({TENANT_LOGIN_VAR, ALLOW_SETTINGS_PROVIDERS_VAR, ONLY_PASSWORD_LOGIN_VAR})
KEPT_NOTE = "kept (use --prune to remove)"


@dataclass
class Removal:
    """Something the console or the server holds in a section the SPEC contains, that the SPEC
    no longer lists. `applied`: apply makes it (planned with prune); else apply keeps the item.

    kind: group.delete, idp.delete, routing.domain.remove, routing.whitelist.remove.
    target: group:<name>, idp:<provider>, tenant:<name>. detail: the domain or the email (for a
    group its id, for a provider its name).
    """

    kind: str
    target: str
    detail: str = ""
    applied: bool = False

    def describe(self, *, tenant: bool = True) -> str:
        name = self.target.split(":", 1)[-1]
        of = f' of tenant "{name}"' if tenant else ""
        if self.kind == "group.delete":
            return f"cross-tenant group {name}" + (f" (id {self.detail})" if self.detail else "")
        if self.kind == "idp.delete":
            return f"identity provider {name}" + (f" ({self.detail})" if self.detail else "")
        if self.kind == "routing.domain.remove":
            return f"login domain {self.detail}{of}"
        if self.kind == "routing.whitelist.remove":
            return f"whitelisted email {self.detail}{of}"
        return f"{self.kind} {self.target} {self.detail}".strip()

    def line(self, *, tenant: bool = True) -> str:
        """How `plan` shows it."""
        if self.applied:
            return f"- remove {self.describe(tenant=tenant)} (with --prune)"
        return f"kept: {self.describe(tenant=tenant)} (not in the SPEC; --prune removes it)"


@dataclass
class SnippetDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)  # what apply removes
    kept: list[str] = field(default_factory=list)  # not in the SPEC, kept without prune
    secret_names: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        """No change (kept variables stay as they are, so they are no change)."""
        return not (self.added or self.changed or self.removed)

    def _shown(self, name: str) -> str:
        return name + (" (secret; value not shown)" if name in self.secret_names else "")

    def lines(self) -> list[str]:
        out = []
        for mark, names in (("+", self.added), ("~", self.changed), ("-", self.removed)):
            for name in names:
                out.append(f"  {mark} {self._shown(name)}")
        return out + self.kept_lines()

    def kept_lines(self) -> list[str]:
        return [f"  = {self._shown(name)} — {KEPT_NOTE}" for name in self.kept]


# --- removals -------------------------------------------------------------------------------------


def _kept_groups(spec: SpecModel) -> list[CrossTenantGroup]:
    """The console's groups that a present `groups` section lacks (names compared ignoring case)."""
    if "groups" not in spec.server.present:
        return []
    wanted = {g.name.lower() for g in spec.server.groups}
    return [g for g in CrossTenantGroup.objects.order_by("name") if g.name.lower() not in wanted]


def _kept_providers(spec: SpecModel) -> list[IdentityProvider]:
    """The console's identity providers that a present `identity_providers` section lacks."""
    if "identity_providers" not in spec.server.present:
        return []
    wanted = {entry.provider.key for entry in spec.server.identity_providers}
    return [p for p in IdentityProvider.objects.order_by("provider") if p.provider not in wanted]


def _group_removal(group: CrossTenantGroup, applied: bool) -> Removal:
    return Removal("group.delete", f"group:{group.name}", str(group.group_id), applied)


def _provider_removal(idp: IdentityProvider, applied: bool) -> Removal:
    provider = catalog.PROVIDERS.get(idp.provider)
    label = provider.label if provider is not None else ""
    return Removal("idp.delete", f"idp:{idp.provider}", label, applied)


def server_removals(spec: SpecModel, *, prune: bool = False) -> list[Removal]:
    """The groups and identity providers the console holds that the SPEC's present sections lack."""
    return [_group_removal(g, prune) for g in _kept_groups(spec)] + [
        _provider_removal(p, prune) for p in _kept_providers(spec)
    ]


# --- snippet diff ---------------------------------------------------------------------------------

Pair = tuple[list[EnvSetting], list[EnvSetting], list[EnvSetting]]


def _pairs(spec: SpecModel, prune: bool) -> list[Pair]:
    """(from the SPEC, from the console, kept) for each section the SPEC names; `kept` are the
    variables of the items the section lacks that apply keeps (none with prune)."""
    present = spec.server.present
    server = spec.server
    pairs: list[Pair] = []
    if "groups" in present:
        wanted = []
        for group in server.groups:
            wanted += gs.group_settings(
                name=group.name,
                display_name=group.display_name,
                group_id=gs.spec_group_id(group),
                features=group.features,
                assignable=group.assignable,
            )
        kept = []
        if not prune:
            for group in _kept_groups(spec):
                kept += gs.stored_group_settings(group)
        pairs.append((wanted, gs.console_groups_settings(), kept))
    if "builtin_groups" in present:
        # Built-in groups the section does not name keep their lists (builtin_groups_update).
        named = set(server.builtin_groups)
        stored = {k: v for k, v in gs.stored_builtin_features().items() if k in named}
        pairs.append((gs.builtin_settings(server.builtin_groups), gs.builtin_settings(stored), []))
    if "organization" in present and server.organization is not None:
        pairs.append(
            (
                gs.organization_settings(server.organization),
                gs.organization_settings(gs.stored_organization()),
                [],
            )
        )
    if present & set(IDP_SECTIONS):
        wanted = identity_provider_settings(spec.raw, placeholders=True)
        held = console_identity_provider_settings()
        if "identity_providers" in present:
            kept = []
            if not prune:
                lacking = {p.provider for p in _kept_providers(spec)}
                kept = entries_settings(
                    [e for e in console_entries() if e.provider.key in lacking],
                    placeholders=True,
                )
            pairs.append(
                (
                    [s for s in wanted if s.name not in MTL_NAMES],
                    [s for s in held if s.name not in MTL_NAMES],
                    kept,
                )
            )
        if "multi_tenant_login" in present:
            # The section manages only the switches it names.
            mine = [s for s in wanted if s.name in MTL_NAMES]
            names = {s.name for s in mine}
            pairs.append((mine, [s for s in held if s.name in names], []))
    return pairs


def snippet_diff(spec: SpecModel, prune: bool = False) -> SnippetDiff:
    """The variables the SPEC adds, changes and removes against the console's; without prune,
    the variables of the groups and providers the SPEC lacks are `kept`, not `removed`."""
    diff = SnippetDiff()
    for wanted, held, kept in _pairs(spec, prune):
        new = {s.name.lower(): s for s in wanted}
        old = {s.name.lower(): s for s in held}
        keep = {s.name.lower() for s in kept}
        for key, setting in new.items():
            if setting.secret:
                diff.secret_names.add(setting.name)
            if key not in old:
                diff.added.append(setting.name)
            elif not setting.secret and (setting.value, setting.service) != (
                old[key].value,
                old[key].service,
            ):
                diff.changed.append(setting.name)
        for key, setting in old.items():
            if key in new:
                continue
            if setting.secret:
                diff.secret_names.add(setting.name)
            (diff.kept if key in keep else diff.removed).append(setting.name)
    return diff


# --- apply --------------------------------------------------------------------------------------


class StoredSections(list):
    """What `store_server_sections` did: one line per section (a list of str, as printed), plus
    `removed` (the removals it made, with prune) and `kept` (those it left alone)."""

    def __init__(self, lines=(), *, removed=None, kept=None):
        super().__init__(lines)
        self.removed: list[Removal] = list(removed or [])
        self.kept: list[Removal] = list(kept or [])


def store_server_sections(spec: SpecModel, *, actor: str, prune: bool = False) -> StoredSections:
    """Keep the SPEC's server sections in the console (their own services write the audit).

    Groups and identity providers that a present section lacks are deleted only with `prune`;
    otherwise they are kept and listed in the result's `kept`.
    """
    done = StoredSections()
    present = spec.server.present
    raw = spec.raw
    if "groups" in present:
        done.append(_store_groups(raw.get("groups") or [], spec, actor, prune, done))
    if "builtin_groups" in present:
        builtin_groups_update(features=spec.server.builtin_groups, version=None, actor=actor)
        done.append("built-in group features")
    if "organization" in present:
        organization_update(data=raw.get("organization") or {}, version=None, actor=actor)
        done.append("organization settings")
    if "identity_providers" in present:
        done.append(_store_providers(spec, actor, prune, done))
    if "multi_tenant_login" in present and spec.server.multi_tenant_login:
        values = {
            "enabled": False,
            "allow_settings_providers": False,
            "only_password_login": False,
            **mtl_values(multi_tenant_login()),
            **spec.server.multi_tenant_login,
        }
        mtl_update(actor=actor, **values)
        done.append("multi-tenant login switches")
    return done


def _outcome(text: str, removed: int, kept: int) -> str:
    if removed:
        text += f", {removed} removed"
    if kept:
        text += f", {kept} kept (not in the SPEC)"
    return text


def _store_groups(
    items: list, spec: SpecModel, actor: str, prune: bool, result: StoredSections
) -> str:
    stored = {g.name.lower(): g for g in CrossTenantGroup.objects.all()}
    for data in items:
        group = stored.get(str(data.get("name", "")).strip().lower())
        if group is None:
            group_create(data=data, actor=actor)
        else:
            group_update(group=group, data=data, version=group.version, actor=actor)
    removed = kept = 0
    for group in _kept_groups(spec):
        if prune:
            group_delete(group=group, version=group.version, actor=actor)
            result.removed.append(_group_removal(group, True))
            removed += 1
        else:
            result.kept.append(_group_removal(group, False))
            kept += 1
    return _outcome(f"{len(items)} cross-tenant group(s)", removed, kept)


def _store_providers(spec: SpecModel, actor: str, prune: bool, result: StoredSections) -> str:
    stored = {p.provider: p for p in IdentityProvider.objects.all()}
    for entry in spec.server.identity_providers:
        idp = stored.get(entry.provider.key)
        if idp is None:
            idp_create(actor=actor, entry=entry)
        else:
            idp_update(actor=actor, idp=idp, entry=entry, version=idp.version)
    removed = kept = 0
    for idp in _kept_providers(spec):
        if prune:
            idp_delete(actor=actor, idp=idp)
            result.removed.append(_provider_removal(idp, True))
            removed += 1
        else:
            result.kept.append(_provider_removal(idp, False))
            kept += 1
    text = f"{len(spec.server.identity_providers)} identity provider(s)"
    return _outcome(text, removed, kept)
