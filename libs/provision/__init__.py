"""Set-up automation: provision ElevenLabs for this gateway, check the whole path (doctor), try a call."""
