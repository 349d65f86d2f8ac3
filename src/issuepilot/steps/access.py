"""Who may act: a user's role on the repository, from the config, a short cache, or GitHub."""

from .context import Context

WRITE_ROLES = frozenset({"admin", "maintain", "write", "allowed-users"})


async def role_of(ctx: Context, login: str) -> str:
    """The actor's role: `allowed-users` from the config, else the collaborator permission
    API (admin, maintain, write, triage, read or none), cached in the store."""
    config = ctx.config
    if config.may_act_without_check(login):
        return "allowed-users"
    key = ctx.keys.permission(login)
    cached = await ctx.store.get_flag(key)
    if cached is not None:
        return cached
    role = await ctx.gh.permission(login)
    if config.permission_cache_minutes:
        await ctx.store.set_flag(key, role, ttl_s=config.permission_cache_minutes * 60)
    return role


async def may_act(ctx: Context, login: str) -> bool:
    return await role_of(ctx, login) in WRITE_ROLES
