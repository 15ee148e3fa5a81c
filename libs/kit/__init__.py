"""Infrastructure shared by the gateway and the services: settings, database, bus, logging, servers.

No domain logic lives here.
"""
