//! scenario tests
