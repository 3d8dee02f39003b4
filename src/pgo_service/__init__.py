"""pgo-service: a FHIR R4 back end for a client's zorgleefplan."""

__version__ = "0.1.0"
