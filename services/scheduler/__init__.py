"""The scheduler service (its features arrive with their own issues; today it starts and answers a ping)."""
