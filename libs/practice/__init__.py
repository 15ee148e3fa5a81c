"""The practice configuration: one YAML file per practice, loaded and validated in one place."""
