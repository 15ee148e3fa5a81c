"""The gateway: the only HTTP edge of Ignis (ElevenLabs tool webhooks, health, metrics)."""
