"""Sync with provider EHRs: the provider registry, the hosts the service may call,
and (built on them) the outbox of calls to providers and the workers that run it.

Uses ``fhir`` and ``db``; never ``api``.
"""
