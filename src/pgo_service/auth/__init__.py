"""The OAuth 2.0 authorization server (modelled on MedMij) and access to /fhir by token."""
