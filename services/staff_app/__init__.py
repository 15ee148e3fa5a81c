"""The practice team's web app at /praxis/: accounts, inbox, calendar, calls, SMS, patients, audit trail.
It talks to the services over NATS like the gateway, never to their schemas."""
