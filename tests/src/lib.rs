//! Shared fixtures for the cascade tests.
