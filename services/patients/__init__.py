"""The patients service: identity, verification and registration of callers (schema `patients`)."""
