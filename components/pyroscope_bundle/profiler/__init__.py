"""Code that runs inside profiled services (not in the Pulumi program).

Everything here imports only the standard library, :mod:`pyroscope_bundle.env_contract` and the
language SDK, so a service image needs nothing else of this bundle.
"""
