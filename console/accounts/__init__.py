"""The console's own accounts: API tokens and people's sessions (the roles are in console.roles)."""
