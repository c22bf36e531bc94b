//! cache tests
