"""Configuration loaders (YAML, TOML, JSON, dotenv, pydantic-settings, configparser, OmegaConf), redundant loads
told apart.
"""
