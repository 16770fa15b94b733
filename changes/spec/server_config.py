"""The SPEC sections that are server configuration, not API calls: groups, built-in groups,
organization, identity providers, multi-tenant login.

`plan` lists every snippet change: the variables the SPEC implies against those the console
holds (names only; a secret's value is never shown). `apply` stores these sections in the console
through their own services and tells the admin to run `manage.py snippets SPEC` and redeploy —
the apiserver reads them from its environment, so nothing is pushed over the API.
Only the sections the SPEC names are compared and stored.
"""

from dataclasses import dataclass, field

from console.snippets import EnvSetting

from .validate import SpecModel

GROUP_SECTIONS = ("groups", "builtin_groups", "organization")
IDP_SECTIONS = ("identity_providers", "multi_tenant_login")


@dataclass
class SnippetDiff:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    secret_names: set[str] = field(default_factory=set)

    @property
    def empty(self) -> bool:
        return not (self.added or self.changed or self.removed)

    def lines(self) -> list[str]:
        out = []
        for mark, names in (("+", self.added), ("~", self.changed), ("-", self.removed)):
            for name in names:
                secret = " (secret; value not shown)" if name in self.secret_names else ""
                out.append(f"  {mark} {name}{secret}")
        return out


def _mtl_names() -> set[str]:
    from sso.multitenant.spec import (
        ALLOW_SETTINGS_PROVIDERS_VAR,
        ONLY_PASSWORD_LOGIN_VAR,
        TENANT_LOGIN_VAR,
    )

    return {TENANT_LOGIN_VAR, ALLOW_SETTINGS_PROVIDERS_VAR, ONLY_PASSWORD_LOGIN_VAR}


def _pairs(spec: SpecModel) -> list[tuple[list[EnvSetting], list[EnvSetting]]]:
    """(from the SPEC, from the console) for each section the SPEC names."""
    present = spec.server.present
    pairs = []
    if present & set(GROUP_SECTIONS):
        from tenants.groups import settings as gs

        server = spec.server
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
            pairs.append((wanted, gs.console_groups_settings()))
        if "builtin_groups" in present:
            pairs.append(
                (
                    gs.builtin_settings(server.builtin_groups),
                    gs.builtin_settings(gs.stored_builtin_features()),
                )
            )
        if "organization" in present and server.organization is not None:
            pairs.append(
                (
                    gs.organization_settings(server.organization),
                    gs.organization_settings(gs.stored_organization()),
                )
            )
    if present & set(IDP_SECTIONS):
        from sso.snippets import console_identity_provider_settings, identity_provider_settings

        wanted = identity_provider_settings(spec.raw, placeholders=True)
        held = console_identity_provider_settings()
        mtl = _mtl_names()
        for section, keep in (
            ("identity_providers", lambda s: s.name not in mtl),
            ("multi_tenant_login", lambda s: s.name in mtl),
        ):
            if section not in present:
                continue
            mine = [s for s in wanted if keep(s)]
            theirs = [s for s in held if keep(s)]
            if section == "multi_tenant_login":
                # The section manages only the switches it names.
                names = {s.name for s in mine}
                theirs = [s for s in theirs if s.name in names]
            pairs.append((mine, theirs))
    return pairs


def snippet_diff(spec: SpecModel) -> SnippetDiff:
    diff = SnippetDiff()
    for wanted, held in _pairs(spec):
        new = {s.name.lower(): s for s in wanted}
        old = {s.name.lower(): s for s in held}
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
        diff.removed += [s.name for k, s in old.items() if k not in new]
    return diff


def store_server_sections(spec: SpecModel, *, actor: str) -> list[str]:
    """Keep the SPEC's server sections in the console (their own services write the audit)."""
    done = []
    present = spec.server.present
    raw = spec.raw
    if "groups" in present:
        done.append(_store_groups(raw.get("groups") or [], spec, actor))
    if "builtin_groups" in present:
        from tenants.groups.services import builtin_groups_update

        builtin_groups_update(features=spec.server.builtin_groups, version=None, actor=actor)
        done.append("built-in group features")
    if "organization" in present:
        from tenants.groups.services import organization_update

        organization_update(data=raw.get("organization") or {}, version=None, actor=actor)
        done.append("organization settings")
    if "identity_providers" in present:
        done.append(_store_providers(spec, actor))
    if "multi_tenant_login" in present and spec.server.multi_tenant_login:
        from sso.multitenant.services import mtl_update, mtl_values, multi_tenant_login

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


def _store_groups(items: list, spec: SpecModel, actor: str) -> str:
    from tenants.groups.models import CrossTenantGroup
    from tenants.groups.services import group_create, group_delete, group_update

    stored = {g.name.lower(): g for g in CrossTenantGroup.objects.all()}
    wanted = set()
    for data in items:
        key = str(data.get("name", "")).lower()
        wanted.add(key)
        group = stored.get(key)
        if group is None:
            group_create(data=data, actor=actor)
        else:
            group_update(group=group, data=data, version=group.version, actor=actor)
    removed = 0
    for key, group in stored.items():
        if key not in wanted:
            group_delete(group=group, version=group.version, actor=actor)
            removed += 1
    return f"{len(items)} cross-tenant group(s)" + (f", {removed} removed" if removed else "")


def _store_providers(spec: SpecModel, actor: str) -> str:
    from sso.providers.models import IdentityProvider
    from sso.providers.services import idp_create, idp_delete, idp_update

    stored = {p.provider: p for p in IdentityProvider.objects.all()}
    wanted = set()
    for entry in spec.server.identity_providers:
        key = entry.provider.key
        wanted.add(key)
        idp = stored.get(key)
        if idp is None:
            idp_create(actor=actor, entry=entry)
        else:
            idp_update(actor=actor, idp=idp, entry=entry, version=idp.version)
    removed = [p for k, p in stored.items() if k not in wanted]
    for idp in removed:
        idp_delete(actor=actor, idp=idp)
    text = f"{len(wanted)} identity provider(s)"
    return text + (f", {len(removed)} removed" if removed else "")
