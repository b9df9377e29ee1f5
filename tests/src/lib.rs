//! Shared helpers for Doorstep integration tests.
