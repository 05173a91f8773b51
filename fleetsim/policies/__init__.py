"""Built-in autonomy policies, registered by name in :data:`fleetsim.policy.BUILTIN_POLICIES`."""
