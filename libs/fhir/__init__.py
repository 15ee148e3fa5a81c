"""Access to the practice's own FHIR R4 server (Aidbox, Medplum, HAPI) for the services that own the data:
settings, an async client with the server's auth, and the mapping of Ignis concepts to FHIR resources."""
