//! engine tests
